import { readFileSync } from 'node:fs';
import Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/adapters/stripe-payments';
import { type StripeEmulator, startStripeEmulator } from '../../local/stripe-emulator/stripe-emulator';
import { STRIPE_PARAMS_FILE, stripeParamsJson } from '../../scripts/stripe-params';

let emulator: StripeEmulator;
let stripe: Stripe;
beforeAll(async () => {
  emulator = await startStripeEmulator();
  stripe = createStripeClient(emulator.apiKey, emulator.url);
});
afterAll(() => emulator?.stop());

let orders = 0;
/** A PaymentIntent the way the service charges one, for an order of its own. */
const charge = (extra: Record<string, unknown> = {}) => {
  orders += 1;
  return {
    amount: 1000,
    currency: 'eur',
    payment_method: 'pm_card_visa',
    confirm: true,
    automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    metadata: { orderId: `params-${orders}` },
    ...extra,
  } as Stripe.PaymentIntentCreateParams;
};

/** The error Stripe refused the request with (a request it answers fails the test). */
const refusal = (request: Promise<unknown>) =>
  request.then(
    () => {
      throw new Error('Stripe was expected to refuse this');
    },
    (error: Stripe.errors.StripeError) => error,
  );

/** Refuses the PaymentIntent like Stripe, and makes none: nothing charged. */
async function refusedCharge(params: Stripe.PaymentIntentCreateParams): Promise<Stripe.errors.StripeError> {
  const created = emulator.stats().paymentIntentsCreated;
  const error = await refusal(stripe.paymentIntents.create(params, { idempotencyKey: `params-refused-${orders}` }));
  expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  expect(error.statusCode).toBe(400);
  expect(emulator.stats().paymentIntentsCreated).toBe(created);
  expect(emulator.paymentIntentsForOrder(String(params.metadata?.orderId))).toEqual([]);
  return error;
}

describe('the parameters the Stripe emulator accepts', () => {
  it('are the ones the pinned stripe SDK types give (after upgrading stripe, run `node --import tsx scripts/stripe-params.ts`)', () => {
    expect(JSON.parse(readFileSync(STRIPE_PARAMS_FILE, 'utf8'))).toEqual(JSON.parse(stripeParamsJson()));
  });

  it('refuses an unknown parameter by name, as Stripe does, at the top or nested', async () => {
    await expect(refusedCharge(charge({ bogus: 1 }))).resolves.toMatchObject({
      code: 'parameter_unknown',
      param: 'bogus',
      message: 'Received unknown parameter: bogus',
    });
    const nested = await refusedCharge(charge({ automatic_payment_methods: { enabled: true, allow_redirects: 'never', redirect: 'no' } }));
    expect(nested).toMatchObject({ code: 'parameter_unknown', param: 'automatic_payment_methods[redirect]' });
    // Every unknown parameter is named, the first as `param`.
    const several = await refusedCharge(charge({ bogus: 1, amount_cents: 1000 }));
    expect(several).toMatchObject({ code: 'parameter_unknown', param: 'bogus', message: 'Received unknown parameters: bogus, amount_cents' });
    // Each endpoint has its own: metadata is no parameter of a confirmation.
    const intent = await stripe.paymentIntents.create(charge({ confirm: false }));
    const confirmation = await refusal(stripe.paymentIntents.confirm(intent.id, { metadata: { orderId: 'x' } } as never));
    expect(confirmation).toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'metadata', message: 'Received unknown parameter: metadata' });
    await expect(stripe.paymentIntents.retrieve(intent.id)).resolves.toMatchObject({ status: 'requires_confirmation' });
  });

  it('refuses a parameter of the wrong type with the code and message Stripe gives', async () => {
    await expect(refusedCharge(charge({ amount: '10.50' }))).resolves.toMatchObject({
      code: 'parameter_invalid_integer',
      param: 'amount',
      message: 'Invalid integer: 10.50',
    });
    await expect(refusedCharge(charge({ confirm: 'yes' }))).resolves.toMatchObject({ code: undefined, param: 'confirm', message: 'Invalid boolean: yes' });
    await expect(refusedCharge(charge({ automatic_payment_methods: { enabled: true, allow_redirects: 'sometimes' } }))).resolves.toMatchObject({
      param: 'automatic_payment_methods[allow_redirects]',
      message: 'Invalid automatic_payment_methods[allow_redirects]: must be one of always or never',
    });
    await expect(refusedCharge(charge({ metadata: 'orderId' }))).resolves.toMatchObject({ param: 'metadata', message: 'Invalid hash' });
    await expect(refusedCharge(charge({ automatic_payment_methods: { allow_redirects: 'never' } }))).resolves.toMatchObject({
      code: 'parameter_missing',
      param: 'automatic_payment_methods[enabled]',
      message: 'Missing required param: automatic_payment_methods[enabled].',
    });
    await expect(refusedCharge(charge({ description: '' }))).resolves.toMatchObject({ code: 'parameter_invalid_empty', param: 'description' });
  });

  it('checks the parameters of refunds and listings too, and refunds nothing when it refuses', async () => {
    const intent = await stripe.paymentIntents.create(charge());
    const refused = await refusal(stripe.refunds.create({ payment_intent: intent.id, amount: 'all' as never, reason: 'duplicate' }));
    expect(refused).toMatchObject({ statusCode: 400, code: 'parameter_invalid_integer', param: 'amount', message: 'Invalid integer: all' });
    const reason = await refusal(stripe.refunds.create({ payment_intent: intent.id, reason: 'changed_mind' }));
    expect(reason).toMatchObject({ param: 'reason', message: 'Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer' });
    await expect(stripe.charges.retrieve(intent.latest_charge as string)).resolves.toMatchObject({ amount_refunded: 0 });

    await expect(refusal(stripe.events.list({ created: { since: 0 } } as never))).resolves.toMatchObject({
      code: 'parameter_unknown',
      param: 'created[since]',
    });
    await expect(refusal(stripe.paymentIntents.list({ expand: 'data.latest_charge' } as never))).resolves.toMatchObject({
      param: 'expand',
      message: 'Invalid array',
    });
  });

  it('refuses a receipt_email Stripe refuses, naming it, and keeps a valid one on the PaymentIntent', async () => {
    await expect(refusedCharge(charge({ receipt_email: 'otameshi@com' }))).resolves.toMatchObject({ code: 'email_invalid', param: 'receipt_email' });
    await expect(stripe.paymentIntents.create(charge({ receipt_email: 'jane@example.com' }))).resolves.toMatchObject({
      status: 'succeeded',
      receipt_email: 'jane@example.com',
    });
  });

  describe('a confirmation on the server, which cannot follow a redirect', () => {
    const redirectsAllowed = { automatic_payment_methods: { enabled: true } };

    it('is refused without a return_url when automatic payment methods may redirect', async () => {
      const error = await refusedCharge(charge(redirectsAllowed));
      expect(error.message).toBe(
        "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of these payment methods might redirect your customer off of your page, you must provide a `return_url`. If you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.",
      );

      const intent = await stripe.paymentIntents.create(charge({ ...redirectsAllowed, confirm: false }));
      expect(intent.automatic_payment_methods).toEqual({ enabled: true, allow_redirects: 'always' });
      const confirmation = await refusal(stripe.paymentIntents.confirm(intent.id));
      expect(confirmation).toMatchObject({ statusCode: 400, message: error.message });
      expect(confirmation.payment_intent).toMatchObject({ id: intent.id, status: 'requires_confirmation', latest_charge: null });
    });

    it('is required too when automatic payment methods are left out, as Stripe then turns them on with redirects', async () => {
      const { automatic_payment_methods: _left, ...withoutAutomaticMethods } = charge() as unknown as Record<string, unknown>;
      const error = await refusedCharge(withoutAutomaticMethods as unknown as Stripe.PaymentIntentCreateParams);
      expect(error.message).toContain('you must provide a `return_url`');
    });

    it('is accepted with a return_url, or when redirects are never allowed', async () => {
      await expect(stripe.paymentIntents.create(charge({ ...redirectsAllowed, return_url: 'https://shop.example/paid' }))).resolves.toMatchObject({
        status: 'succeeded',
      });
      await expect(stripe.paymentIntents.create(charge())).resolves.toMatchObject({ status: 'succeeded' });

      const intent = await stripe.paymentIntents.create(charge({ ...redirectsAllowed, confirm: false }));
      await expect(stripe.paymentIntents.confirm(intent.id, { return_url: 'https://shop.example/paid' })).resolves.toMatchObject({ status: 'succeeded' });
    });
  });
});
