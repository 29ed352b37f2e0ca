import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createLedgerReader } from '../../lambdas/adapters/dynamodb-ledger';
import { stripeIdempotencyKey } from '../../lambdas/contract/payment-metadata';
import { RATE_LIMITED_RETRY_AFTER_SECONDS } from '../../lambdas/contract/settings';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { localSqsClient } from '../../local/queues';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import type { StripeEmulator } from '../../local/stripe-emulator/stripe-emulator';
import { inspectDeadLetters } from '../../scripts/dead-letter-operations';
import { newOrderId } from '../support/local-parts';

/**
 * Issue 16's "done when", against the local runtime: Stripe answers 429 for a few seconds. The
 * sync routes answer 429 with Retry-After and charge nothing twice; queued orders all end charged
 * once, nothing is dead-lettered, and no receive is spent waiting.
 */
const RATE_LIMITED_MS = 4_000;
const QUEUED_ORDERS = 20;

let runtime: LocalRuntime;
let stripe: StripeEmulator;
let sqs: SQSClient;
let dynamoDb: DynamoDBClient;
let readLedger: (orderId: string) => Promise<LedgerRecord | undefined>;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    port: 0,
    namePrefix: `rl${randomUUID().slice(0, 8)}-`,
    // A spent receive would hide a message for 15–30 s, longer than the whole test waits for it.
    queueVisibilityTimeoutSeconds: 30,
    retrySchedule: { baseDelaySeconds: 30, maxDelaySeconds: 30 },
    rateLimitSchedule: { baseDelaySeconds: 1, maxDelaySeconds: 2, rideOutSeconds: 60 },
  });
  stripe = runtime.stripeEmulator as StripeEmulator;
  sqs = localSqsClient(runtime.sqsEndpoint);
  dynamoDb = localDynamoDbClient(runtime.dynamoDbEndpoint);
  readLedger = createLedgerReader(dynamoDb, runtime.tables.ledgerTableName);
});
afterAll(async () => {
  sqs?.destroy();
  dynamoDb?.destroy();
  await runtime?.stop();
});

const order = (orderId: string) => ({ orderId, amount: 2500, currency: 'eur', paymentMethod: 'pm_card_visa' });

// biome-ignore lint/suspicious/noExplicitAny: the answer is untyped JSON; the assertions check its shape
async function post(path: string, body: unknown): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const response = await fetch(`${runtime.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function queueAttributes(): Promise<Record<string, number>> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: runtime.queues.queueUrl, AttributeNames: ['All'] }));
  return Object.fromEntries(Object.entries(Attributes).map(([name, value]) => [name, Number(value)]));
}

const stripeRequests = (orderId: string) => stripe.stats().requestsByIdempotencyKey[stripeIdempotencyKey(runtime.namespace, orderId)] ?? 0;

describe('Stripe answering 429 for a while', () => {
  it('answers the sync routes 429 with Retry-After, charges every queued order once, dead-letters nothing and spends no receive', async () => {
    const refunded = newOrderId('refund-limited');
    expect((await post('/payments', order(refunded))).status).toBe(201);
    const synced = newOrderId('sync-limited');
    const queued = Array.from({ length: QUEUED_ORDERS }, (_, i) => newOrderId(`queued-limited-${i}`));

    stripe.faults.rateLimitFor(RATE_LIMITED_MS);
    const limitEnds = Date.now() + RATE_LIMITED_MS;
    const answers = await Promise.all(queued.map((orderId) => post('/payments/async', order(orderId))));
    expect(answers.map((answer) => answer.status)).toEqual(queued.map(() => 202));

    const charge = await post('/payments', order(synced));
    expect(charge).toMatchObject({
      status: 429,
      retryAfter: String(RATE_LIMITED_RETRY_AFTER_SECONDS),
      body: { error: { code: 'payment_provider_rate_limited' } },
    });
    expect(charge.body.error.message).toContain('retrying with the same orderId');
    expect(await readLedger(synced)).toMatchObject({ status: 'pending' }); // kept for a resume with the same key
    const refund = await post(`/payments/${refunded}/refunds`, { refundId: 'r-1', amount: 500 });
    expect(refund).toMatchObject({
      status: 429,
      retryAfter: String(RATE_LIMITED_RETRY_AFTER_SECONDS),
      body: { error: { code: 'payment_provider_rate_limited' } },
    });

    // The worker sends rate-limited messages again with a delay, instead of hiding them for a later receive.
    await waitFor('a rate-limited message sent again, delayed', async () => (await queueAttributes()).ApproximateNumberOfMessagesDelayed > 0);
    expect(Date.now()).toBeLessThan(limitEnds);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, limitEnds - Date.now())));

    // The same requests, after Retry-After, finish what was started.
    expect((await post('/payments', order(synced))).status).toBe(201);
    expect((await post(`/payments/${refunded}/refunds`, { refundId: 'r-1', amount: 500 })).status).toBe(201);

    for (const orderId of queued) await waitFor(`order ${orderId} charged`, async () => (await readLedger(orderId))?.status === 'charged');
    for (const orderId of [...queued, synced]) expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(queued.filter((orderId) => stripeRequests(orderId) > 1).length).toBeGreaterThan(0); // rate limited at least once, then charged
    expect(await inspectDeadLetters(sqs, runtime.queues.deadLetterQueueUrl)).toEqual([]);
    await waitFor('the queue to drain', async () => {
      const attributes = await queueAttributes();
      return attributes.ApproximateNumberOfMessages + attributes.ApproximateNumberOfMessagesNotVisible + attributes.ApproximateNumberOfMessagesDelayed === 0;
    });
  }, 60_000);
});
