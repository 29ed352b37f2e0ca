import Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/adapters/stripe-payments';
import { type StripeEmulator, startStripeEmulator } from '../../local/stripe-emulator/stripe-emulator';

let emulator: StripeEmulator;
let stripe: Stripe;
beforeAll(async () => {
  emulator = await startStripeEmulator();
  stripe = createStripeClient(emulator.apiKey, emulator.url);
});
afterAll(() => emulator?.stop());
afterEach(() => emulator.faults.clear());

const params = (extra: Partial<Stripe.PaymentIntentCreateParams> = {}): Stripe.PaymentIntentCreateParams => ({
  amount: 1000,
  currency: 'eur',
  payment_method: 'pm_card_visa',
  confirm: true,
  metadata: { orderId: 'x' },
  ...extra,
});

describe('Stripe emulator, driven by the real stripe SDK', () => {
  it('confirms a PaymentIntent with a succeeding test card and retrieves it', async () => {
    const intent = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-success' });
    expect(intent).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 1000, currency: 'eur' });
    await expect(stripe.paymentIntents.retrieve(intent.id)).resolves.toMatchObject({ id: intent.id, status: 'succeeded' });
  });

  it('replays the first response for the same key, with Idempotent-Replayed', async () => {
    const first = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-replay' });
    const created = emulator.stats().paymentIntentsCreated;
    const second = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-replay' });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(emulator.stats().paymentIntentsCreated).toBe(created);
  });

  it('refuses the same key with other parameters: 400 idempotency_error', async () => {
    await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-mismatch' });
    const reused = stripe.paymentIntents.create(params({ amount: 2000 }), { idempotencyKey: 'emu-mismatch' });
    await expect(reused).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(reused).rejects.toMatchObject({ statusCode: 400 });
  });

  it('answers 409 idempotency_key_in_use while the first request with the key is running', async () => {
    emulator.faults.setLatency(500);
    const patient = stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-concurrent' });
    // Wait until the first request holds the key, whatever the machine's load.
    while ((emulator.stats().requestsByIdempotencyKey['emu-concurrent'] ?? 0) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const impatient = stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-concurrent', maxNetworkRetries: 0 });
    await expect(impatient).rejects.toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
    await expect(patient).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('declines pm_card_chargeDeclined with a card error carrying the PaymentIntent, and replays the decline', async () => {
    const decline = () => stripe.paymentIntents.create(params({ payment_method: 'pm_card_chargeDeclined' }), { idempotencyKey: 'emu-decline' });
    const first = await decline().catch((error: unknown) => error);
    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(first).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'generic_decline' });
    expect((first as Stripe.errors.StripeCardError).payment_intent?.status).toBe('requires_payment_method');
    await expect(decline()).rejects.toMatchObject({ decline_code: 'generic_decline' });
    expect(emulator.paymentIntentsForOrder('x').filter((pi) => pi.payment_method === 'pm_card_chargeDeclined')).toHaveLength(1);
  });

  it('injects 5xx answers that the SDK retries with the same key', async () => {
    emulator.faults.failNext(2, 500);
    const intent = await stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-5xx' } }), { idempotencyKey: 'emu-5xx' });
    expect(intent.status).toBe('succeeded');
    expect(emulator.stats().requestsByIdempotencyKey['emu-5xx']).toBe(3);
  });

  it('drops connections before processing, which the SDK surfaces as a connection error', async () => {
    emulator.faults.dropNextRequests(3);
    const request = stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-drop' } }), { idempotencyKey: 'emu-drop' });
    await expect(request).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(emulator.paymentIntentsForOrder('emu-drop')).toHaveLength(0);
  });

  it('rejects a wrong API key with 401', async () => {
    const stranger = createStripeClient('sk_test_wrong', emulator.url);
    await expect(stranger.paymentIntents.create(params())).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });

  it('validates parameters like Stripe and does not save the failed key', async () => {
    const missingMethod = stripe.paymentIntents.create(params({ payment_method: undefined }), { idempotencyKey: 'emu-invalid' });
    await expect(missingMethod).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-invalid' })).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('finds PaymentIntents by metadata with the search API', async () => {
    const intent = await stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-search' } }), { idempotencyKey: 'emu-search' });
    const found = await stripe.paymentIntents.search({ query: "metadata['orderId']:'emu-search'" });
    expect(found.data.map((pi) => pi.id)).toEqual([intent.id]);
  });

  it('forgets idempotency keys on request, as Stripe may after 24 hours', async () => {
    const first = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-expire' });
    emulator.faults.expireIdempotencyKeys();
    const second = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-expire' });
    expect(second.id).not.toBe(first.id);
  });

  it('can lose replayed answers too, so a lost answer can be lost again', async () => {
    emulator.faults.dropNextResponses(3);
    const lost = stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-lost' } }), { idempotencyKey: 'emu-lost' });
    await expect(lost).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(emulator.paymentIntentsForOrder('emu-lost')).toHaveLength(1);
    expect(emulator.stats().replays).toBeGreaterThanOrEqual(2);
  });

  it("refuses amounts below Stripe's minimum", async () => {
    await expect(stripe.paymentIntents.create(params({ amount: 49 }))).rejects.toMatchObject({ code: 'amount_too_small', param: 'amount' });
  });
});
