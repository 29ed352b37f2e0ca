import Stripe from 'stripe';
import { stripeIdempotencyKey } from '../../lambdas/contract/payment-metadata';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import type { StripeEmulator } from '../../local/stripe-emulator/stripe-emulator';
import { newOrderId } from '../support/local-parts';

/**
 * Two deployments (a sandbox and a colleague's stack, say) on one Stripe account: one Stripe
 * emulator, whose webhooks go to both endpoints, as Stripe sends every event to every endpoint.
 */
let alpha: LocalRuntime;
let beta: LocalRuntime;
let emulator: StripeEmulator;
let stripe: Stripe;

beforeAll(async () => {
  alpha = await startLocalRuntime({ port: 0, namePrefix: 'alpha-', namespace: 'alpha' });
  emulator = alpha.stripeEmulator as StripeEmulator;
  // Beta shares alpha's DynamoDB Local and SQS emulator (own tables and queues) and its Stripe account.
  beta = await startLocalRuntime({
    port: 0,
    namePrefix: 'beta-',
    dynamoDbEndpoint: alpha.dynamoDbEndpoint,
    sqsEndpoint: alpha.sqsEndpoint,
    stripeSecretKey: emulator.apiKey,
    stripeApiBase: emulator.url,
  });
  emulator.webhooks.addEndpoint({ url: `${beta.url}/webhooks/stripe`, secret: beta.stripeWebhookSecret });
  stripe = new Stripe(emulator.apiKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http' });
});
afterAll(async () => {
  await beta?.stop();
  await alpha?.stop();
});

const charge = async (runtime: LocalRuntime, orderId: string, amount: number) => {
  const response = await fetch(`${runtime.url}/payments`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ orderId, amount, currency: 'eur', paymentMethod: 'pm_card_visa' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const payment = async (runtime: LocalRuntime, orderId: string) =>
  (await fetch(`${runtime.url}/payments/${orderId}`)).json() as Promise<Record<string, unknown>>;

describe('two deployments on one Stripe account', () => {
  it('do not share a namespace by default: a runtime on a real Stripe account defaults to one of its machine and user', () => {
    expect(beta.namespace).toMatch(/^local-[A-Za-z0-9._-]+$/);
    expect(beta.namespace).not.toBe('local');
  });

  it('charge the same orderId separately: two PaymentIntents, each ledger its own, both 201', async () => {
    const orderId = newOrderId('shared');
    const [a, b] = [await charge(alpha, orderId, 1000), await charge(beta, orderId, 2000)];

    expect([a.status, b.status]).toEqual([201, 201]);
    const [alphaIntent] = emulator.paymentIntentsForOrder(orderId, 'alpha');
    const [betaIntent] = emulator.paymentIntentsForOrder(orderId, beta.namespace);
    expect(alphaIntent).toMatchObject({ amount: 1000, status: 'succeeded' });
    expect(betaIntent).toMatchObject({ amount: 2000, status: 'succeeded' });
    expect(emulator.paymentIntentsForOrder(orderId)).toHaveLength(2);
    // Each deployment's key reached Stripe once: neither got a replay of the other's PaymentIntent.
    const requests = emulator.stats().requestsByIdempotencyKey;
    expect([requests[stripeIdempotencyKey('alpha', orderId)], requests[stripeIdempotencyKey(beta.namespace, orderId)]]).toEqual([1, 1]);

    await emulator.webhooks.settled();
    expect(await payment(alpha, orderId)).toMatchObject({ status: 'charged', paymentId: alphaIntent.id, amount: 1000 });
    expect(await payment(beta, orderId)).toMatchObject({ status: 'charged', paymentId: betaIntent.id, amount: 2000 });
  });

  it("never let one deployment's events change the other's ledger", async () => {
    const orderId = newOrderId('shared-events');
    expect((await charge(alpha, orderId, 1500)).status).toBe(201);
    const [alphaIntent] = emulator.paymentIntentsForOrder(orderId, 'alpha');
    await stripe.refunds.create({ payment_intent: alphaIntent.id });
    await emulator.webhooks.settled();

    expect(await payment(alpha, orderId)).toMatchObject({ status: 'refunded', amountRefunded: 1500 });
    // Beta was sent every event too, answered each 200 and recorded nothing.
    const toBeta = emulator.webhooks.deliveries().filter((delivery) => delivery.url.startsWith(beta.url));
    expect(toBeta.length).toBeGreaterThan(0);
    expect(toBeta.every((delivery) => delivery.status === 200)).toBe(true);
    expect((await fetch(`${beta.url}/payments/${orderId}`)).status).toBe(404);

    // Beta's own first request for the orderId is a first charge, not `already_processed`.
    const first = await charge(beta, orderId, 1500);
    expect(first.status).toBe(201);
    expect(first.body.status).toBe('charged');
    expect(first.body.paymentId).not.toBe(alphaIntent.id);
  });
});
