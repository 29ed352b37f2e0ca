import type Stripe from 'stripe';
import { createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { BEFORE_NAMESPACES, paymentMetadata } from '../../lambdas/contract/payment-metadata';
import { PaymentProviderError } from '../../lambdas/core/errors';

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
