import Stripe from 'stripe';
import { createStripePayments, createStripeRefunds, stripeClientOnFirstNeed } from '../../lambdas/adapters/stripe-payments';
import { BEFORE_NAMESPACES, paymentMetadata } from '../../lambdas/contract/payment-metadata';
import { PaymentProviderError, PaymentProviderRateLimitedError } from '../../lambdas/core/errors';
import type { PaymentIntentCreate, RefundCreate } from '../../lambdas/core/stripe-requests';
import { errorSummary } from '../../lambdas/handlers/error-summary';

/** Stripe's search as a plain fake: records each query and answers one page. */
function searchAnswering(page: { data: unknown[]; has_more: boolean }) {
  const queries: string[] = [];
  const stripe = {
    paymentIntents: {
      search: async ({ query }: { query: string }) => {
        queries.push(query);
        return page;
      },
    },
  } as unknown as Stripe;
  return { payments: createStripePayments(async () => stripe), queries };
}

const order = { orderId: 'order-1', amount: 1999, currency: 'eur' };
const intent = (namespace: string, id: string, extra: Record<string, unknown> = {}) => ({
  id,
  object: 'payment_intent',
  status: 'succeeded',
  amount: 1999,
  currency: 'eur',
  created: 1,
  metadata: paymentMetadata(namespace, order.orderId),
  ...extra,
});

describe('the day-old lookup', () => {
  it("asks Stripe only for this namespace's PaymentIntents of the order", async () => {
    const { payments, queries } = searchAnswering({ data: [intent('prod', 'pi_ours')], has_more: false });
    await expect(payments.findPayment(order, 'prod')).resolves.toMatchObject({ paymentId: 'pi_ours', status: 'charged' });
    expect(queries).toEqual(["metadata['orderId']:'order-1' AND metadata['namespace']:'prod'"]);
  });

  it('asks for the marker instead for an order made before namespaces, and takes only a payment without one', async () => {
    const { payments, queries } = searchAnswering({ data: [intent('prod', 'pi_namespaced'), intent(BEFORE_NAMESPACES, 'pi_old')], has_more: false });
    await expect(payments.findPayment(order, BEFORE_NAMESPACES)).resolves.toMatchObject({ paymentId: 'pi_old' });
    expect(queries).toEqual(["metadata['orderId']:'order-1' AND metadata['createdBy']:'exactly-once-payments'"]);
  });

  it('does not say "none" while Stripe has more results than it returned: it fails, to be retried', async () => {
    const { payments } = searchAnswering({ data: Array.from({ length: 100 }, (_, i) => intent('prod', `pi_${i}`, { amount: 5 })), has_more: true });
    await expect(payments.findPayment(order, 'prod')).rejects.toBeInstanceOf(PaymentProviderError);
  });

  it('says "none" when Stripe returned everything and nothing is ours', async () => {
    const { payments } = searchAnswering({ data: [intent('prod', 'pi_other_amount', { amount: 5 })], has_more: false });
    await expect(payments.findPayment(order, 'prod')).resolves.toBeUndefined();
  });
});

describe("Stripe's rate limit", () => {
  const idempotencyKey = 'ns:order-1:key';
  const stripeError = (fields: Record<string, unknown>) =>
    ({ type: 'invalid_request_error', message: 'Too many requests', statusCode: 429, ...fields }) as never;
  const rateLimited = new Stripe.errors.StripeRateLimitError(
    stripeError({ code: 'rate_limit', headers: { 'stripe-rate-limited-reason': 'global-rate', 'idempotency-key': idempotencyKey } }),
  );
  /** Stripe's create calls (charge and refund) failing with the given error. */
  const failingWith = (error: unknown) => {
    const reject = async () => Promise.reject(error);
    const stripe = { paymentIntents: { create: reject }, refunds: { create: reject } } as unknown as Stripe;
    return { payments: createStripePayments(async () => stripe), refunds: createStripeRefunds(async () => stripe) };
  };
  const charge = { idempotencyKey, orderId: 'order-1', namespace: 'ns', params: { amount: 1999, currency: 'eur' } } as unknown as PaymentIntentCreate;
  const refund = {
    idempotencyKey,
    orderId: 'order-1',
    refundId: 'r-1',
    namespace: 'ns',
    params: { payment_intent: 'pi_1', amount: 5 },
  } as unknown as RefundCreate;

  it.each([
    ['a charge', () => failingWith(rateLimited).payments.createPayment(charge)],
    ['a refund', () => failingWith(rateLimited).refunds.createRefund(refund)],
  ])("is a retryable rate-limited failure of %s, carrying Stripe's reason", async (_case, create) => {
    const failure = await create().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PaymentProviderRateLimitedError);
    expect(failure).toMatchObject({ retryable: true, reason: 'global-rate' });
  });

  it('is logged with its reason, never with the idempotency key', async () => {
    const failure = await failingWith(rateLimited)
      .payments.createPayment(charge)
      .catch((error: unknown) => error);
    const summary = errorSummary(failure);
    expect(summary).toMatchObject({ name: 'PaymentProviderRateLimitedError < StripeRateLimitError', message: expect.stringContaining('global-rate') });
    expect(JSON.stringify(summary)).not.toContain(idempotencyKey);
  });

  it('is the rate limit without a reason header too, and a 400 rate_limit is one', async () => {
    const withoutHeader = new Stripe.errors.StripeRateLimitError(stripeError({ code: 'rate_limit' }));
    await expect(failingWith(withoutHeader).payments.createPayment(charge)).rejects.toMatchObject({
      name: 'PaymentProviderRateLimitedError',
      reason: undefined,
    });
  });

  it('is not a lock timeout (a 429 about one object held by another request): that stays a plain provider failure', async () => {
    const lockTimeout = new Stripe.errors.StripeRateLimitError(stripeError({ code: 'lock_timeout' }));
    const failure = await failingWith(lockTimeout)
      .payments.createPayment(charge)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PaymentProviderError);
    expect(failure).not.toBeInstanceOf(PaymentProviderRateLimitedError);
  });
});

describe('the client made on first need', () => {
  it('is one client for the requests that ask while the SDK loads, and a new one only when the key changes', async () => {
    let apiKey = 'sk_test_first';
    const client = stripeClientOnFirstNeed(async () => apiKey);
    const [first, together] = await Promise.all([client(), client()]);
    expect(together).toBe(first);
    expect(await client()).toBe(first);
    apiKey = 'sk_test_rotated';
    expect(await client()).not.toBe(first);
  });
});
