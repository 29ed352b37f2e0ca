import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createDynamoDbLedger, createLedgerReader } from '../../lambdas/adapters/dynamodb-ledger';
import { stripeIdempotencyKey } from '../../lambdas/contract/payment-metadata';
import { chargeQueue } from '../../lambdas/contract/queues';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import { pendingRecordOf } from '../../lambdas/core/charge-order';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { localSqsClient } from '../../local/queues';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import type { StripeEmulator } from '../../local/stripe-emulator/stripe-emulator';
import { type DeadLetterView, inspectDeadLetters, redriveByCopy } from '../../scripts/dead-letter-operations';
import { newOrderId } from '../support/local-parts';

/** The async path end to end: local API → SQS emulator → poller → worker → DynamoDB Local + Stripe emulator. */
const RATE_LIMIT_RIDDEN_OUT_SECONDS = 2;
/** The reconciler and the catch-up stay idle: their Stripe requests would take faults (and budget) meant for the worker. */
const NO_PERIODIC_RUNS = { reconcileIntervalSeconds: 3600, eventsCatchUpIntervalSeconds: 3600 };
let runtime: LocalRuntime;
let stripe: StripeEmulator;
let sqs: SQSClient;
let dynamoDb: DynamoDBClient;
let readLedger: (orderId: string) => Promise<LedgerRecord | undefined>;

beforeAll(async () => {
  // A one-second visibility timeout and retry delay let SQS redeliver failed messages within the test's
  // time, and a rate limit is ridden out for RATE_LIMIT_RIDDEN_OUT_SECONDS only.
  runtime = await startLocalRuntime({
    port: 0,
    namePrefix: `q${randomUUID().slice(0, 8)}-`,
    queueVisibilityTimeoutSeconds: 1,
    retrySchedule: { baseDelaySeconds: 1, maxDelaySeconds: 1 },
    rateLimitSchedule: { baseDelaySeconds: 1, maxDelaySeconds: 1, rideOutSeconds: RATE_LIMIT_RIDDEN_OUT_SECONDS },
    ...NO_PERIODIC_RUNS,
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
afterEach(() => stripe.faults.clear());

/** A 429 that is not the rate limit: another request holds the object (stripe-node does not retry it without Stripe-Should-Retry). */
const LOCK_TIMEOUT = {
  type: 'invalid_request_error',
  code: 'lock_timeout',
  message: 'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.',
};

const order = (orderId: string, extra: Record<string, unknown> = {}) => ({ orderId, amount: 2500, currency: 'eur', paymentMethod: 'pm_card_visa', ...extra });

// biome-ignore lint/suspicious/noExplicitAny: the answer is untyped JSON; the assertions check its shape
async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${runtime.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const FINAL = new Set(['charged', 'declined', 'requires_action']);
const finalRecord = (orderId: string) => async () => {
  const record = await readLedger(orderId);
  return record !== undefined && FINAL.has(record.status) ? record : undefined;
};

async function queueEmpty(): Promise<boolean> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: runtime.queues.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible) === 0;
}

const stripeRequests = (orderId: string) => stripe.stats().requestsByIdempotencyKey[stripeIdempotencyKey(runtime.namespace, orderId)];
const deadLetters = () => inspectDeadLetters(sqs, runtime.queues.deadLetterQueueUrl);
const deadLetterFor = (orderId: string) => async (): Promise<DeadLetterView | undefined> =>
  (await deadLetters()).find((message) => message.orderId === orderId);

describe('POST /payments/async through the queue', () => {
  it("answers 202 queued with SQS's message id, and GET /payments/{orderId} then shows the charge", async () => {
    const orderId = newOrderId('async');
    expect(await post('/payments/async', order(orderId))).toEqual({
      status: 202,
      body: { messageId: expect.stringMatching(/^[0-9a-f-]{36}$/), requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued' },
    });
    await waitFor('the charge', finalRecord(orderId));
    const response = await fetch(`${runtime.url}/payments/${orderId}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ orderId, status: 'charged', amount: 2500, currency: 'eur', paymentStatus: 'succeeded' });
    expect((await fetch(`${runtime.url}/payments/never-${orderId}`)).status).toBe(404);
    await waitFor('the queue to drain', queueEmpty);
  });

  it("refuses an invalid body with API Gateway's 400 and queues nothing", async () => {
    const orderId = newOrderId('invalid');
    const response = await post('/payments/async', { orderId, amount: -1, currency: 'eur' });
    expect(response).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'Invalid request body' } } });
    expect(await queueEmpty()).toBe(true);
    expect((await deadLetterFor(orderId)()) ?? null).toBeNull();
    expect(await readLedger(orderId)).toBeUndefined();
  });

  it.each([
    ['/payments', { details: [{ field: 'paymentMethod', message: 'must match ^pm_[A-Za-z0-9_]+$' }] }], // the Lambda names the field
    ['/payments/async', { message: 'Invalid request body' }], // API Gateway's model check does not
  ])('refuses a card number as paymentMethod on %s with 400, and writes, queues and charges nothing', async (path, said) => {
    const orderId = newOrderId('card-number');
    const stripeRequestsBefore = stripe.stats().requests;
    const response = await post(path, order(orderId, { paymentMethod: '4242424242424242' }));
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'invalid_request', ...said });
    expect(await readLedger(orderId)).toBeUndefined();
    expect(await queueEmpty()).toBe(true);
    expect(stripe.stats().requests).toBe(stripeRequestsBefore);
  });

  it('refuses text with an unpaired surrogate on /payments with 400 naming the field', async () => {
    const orderId = newOrderId('surrogate');
    // JSON.stringify writes the lone surrogate as the escape \udc00, as a client's JSON would.
    const response = await post('/payments', order(orderId, { description: 'x\udc00' }));
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([{ field: 'description', message: expect.stringContaining('well-formed Unicode') }]);
    expect(await readLedger(orderId)).toBeUndefined();
  });

  it('queues text with an unpaired surrogate on /payments/async, which the model cannot see, and the worker dead-letters it at once, charging nothing', async () => {
    const orderId = newOrderId('surrogate-queued');
    expect((await post('/payments/async', order(orderId, { description: 'x\udc00' }))).status).toBe(202);
    const letter = await waitFor('the dead letter', deadLetterFor(orderId));
    expect(letter).toMatchObject({ failureCode: 'invalid_request', receiveCount: 1 });
    expect(await readLedger(orderId)).toBeUndefined();
    expect(stripeRequests(orderId)).toBeUndefined();
  });

  it('dead-letters at once, with its failure code, a message the worker cannot send to Stripe, and frees the order', async () => {
    // API Gateway's model cannot see an unpaired surrogate: a queued order may carry one into the
    // worker, and a pending record written before validation refused them may still hold one.
    const orderId = newOrderId('unsendable');
    await createDynamoDbLedger(dynamoDb, runtime.tables.ledgerTableName).createPendingOrGet(
      pendingRecordOf(
        { ...order(orderId), description: 'written before validation \udc00' },
        { channel: 'queue', namespace: runtime.namespace },
        new Date().toISOString(),
      ),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: runtime.queues.queueUrl, MessageBody: JSON.stringify(order(orderId)) }));
    const letter = await waitFor('the dead letter', deadLetterFor(orderId));
    expect(letter).toMatchObject({ failureCode: 'payment_rejected', receiveCount: 1 });
    expect(letter.failureReason).toContain('description');
    expect(await readLedger(orderId)).toBeUndefined();
    expect(stripeRequests(orderId)).toBeUndefined();

    await sqs.send(new SendMessageCommand({ QueueUrl: runtime.queues.queueUrl, MessageBody: JSON.stringify({ ...order(orderId), description: 'x\udc00' }) }));
    const invalid = await waitFor('the second dead letter', async () =>
      (await deadLetters()).find((m) => m.orderId === orderId && m.failureCode === 'invalid_request'),
    );
    expect(invalid.failureReason).toContain('description must be well-formed Unicode');
  });

  it('charges an order queued 10 times and also sent to POST /payments exactly once', async () => {
    const orderId = newOrderId('ten-times');
    const answers = await Promise.all([...Array.from({ length: 10 }, () => post('/payments/async', order(orderId))), post('/payments', order(orderId))]);
    expect(answers.slice(0, 10).every((answer) => answer.status === 202)).toBe(true);
    await waitFor('the queue to drain', async () => (await queueEmpty()) && (await finalRecord(orderId)()));

    const intents = stripe.paymentIntentsForOrder(orderId);
    expect(intents).toHaveLength(1);
    // The key table and the ledger stopped the other 10 before Stripe: one request reached it.
    expect(stripeRequests(orderId)).toBe(1);
    expect(await readLedger(orderId)).toMatchObject({ status: 'charged', paymentId: intents[0].id });
    expect((await deadLetterFor(orderId)()) ?? null).toBeNull();
  });

  it('survives 6 failed receives (Stripe lock timeouts) under the shortened schedule, and charges it once', async () => {
    const orderId = newOrderId('lock-timeouts');
    stripe.faults.failNext(6, 429, LOCK_TIMEOUT); // one request per receive: stripe-node does not retry a 429 itself
    await post('/payments/async', order(orderId));

    const record = await waitFor('the charge', finalRecord(orderId));
    expect(record.status).toBe('charged');
    expect(stripeRequests(orderId)).toBe(7);
    expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect((await deadLetterFor(orderId)()) ?? null).toBeNull();
  });

  it("keeps the worker's Stripe requests in flight within its batches × concurrency", async () => {
    const { worker } = stripeBudgetOf(runtime.stripeRequestsPerSecond);
    stripe.faults.setLatency(400);
    stripe.resetPeak();
    const orderIds = Array.from({ length: 2 * worker.batchSize * worker.maxConcurrency }, () => newOrderId('burst'));
    await Promise.all(orderIds.map((orderId) => post('/payments/async', order(orderId))));
    for (const orderId of orderIds) await waitFor('the charge', finalRecord(orderId));
    // As many poll loops as the event source mapping's concurrency, each with one batch in flight.
    expect(stripe.stats().peakRequestsInFlight).toBeLessThanOrEqual(worker.batchSize * worker.maxConcurrency);
    expect(stripe.stats().peakRequestsInFlight).toBeGreaterThan(1); // records of a batch do run in parallel
  }, 60_000);

  it('dead-letters a reused orderId with another amount at the first receive, without charging it', async () => {
    const orderId = newOrderId('poison');
    expect((await post('/payments', order(orderId))).status).toBe(201);
    const before = await readLedger(orderId);
    await post('/payments/async', order(orderId, { amount: 999 }));

    const letter = await waitFor('the dead letter', deadLetterFor(orderId));
    expect(letter).toMatchObject({ amount: 999, failureCode: 'idempotency_key_reused', receiveCount: 1 });
    expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(stripeRequests(orderId)).toBe(1);
    const { status, amount, paymentId } = before as LedgerRecord;
    expect(await readLedger(orderId)).toMatchObject({ status, amount, paymentId });
  });

  it('dead-letters a message that is not a charge request, with the reason', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: runtime.queues.queueUrl, MessageBody: '{"orderId":"bad body","amount":"ten"}' }));
    const letter = await waitFor('the dead letter', deadLetterFor('bad body'));
    expect(letter.failureCode).toBe('invalid_request');
    expect(letter.failureReason).toContain('amount must be an integer');
  });

  it('gives up after maxReceiveCount receives while Stripe keeps failing, and the redriven message is charged once', async () => {
    const orderId = newOrderId('stripe-down');
    stripe.faults.failNext(1_000, 429, LOCK_TIMEOUT);
    await post('/payments/async', order(orderId));

    const letter = await waitFor('SQS to dead-letter the message', deadLetterFor(orderId), 60_000);
    expect(letter.failureCode).toBeNull(); // moved by SQS's redrive policy, not by the worker
    expect(stripeRequests(orderId)).toBe(chargeQueue.maxReceiveCount);
    expect(await readLedger(orderId)).toMatchObject({ status: 'pending' });

    stripe.faults.clear();
    const waiting = (await deadLetters()).length;
    expect(await redriveByCopy(sqs, runtime.queues.deadLetterQueueUrl, runtime.queues.queueUrl)).toBe(waiting);
    await waitFor('the charge', finalRecord(orderId));
    expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect((await deadLetterFor(orderId)()) ?? null).toBeNull();
  }, 90_000);

  it('spends receives again once an order has been rate limited longer than the ride-out, so an account always over budget still reaches the dead-letter queue', async () => {
    const orderId = newOrderId('always-limited');
    stripe.faults.rateLimitFor(120_000);
    await post('/payments/async', order(orderId));

    const letter = await waitFor('SQS to dead-letter the message', deadLetterFor(orderId), 60_000);
    expect(letter.failureCode).toBeNull(); // moved by SQS's redrive policy after maxReceiveCount receives of the last sending
    // Sent again while the ride-out lasted (each sending one request), then maxReceiveCount receives.
    expect(stripeRequests(orderId)).toBeGreaterThan(chargeQueue.maxReceiveCount);
    expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(0);
    stripe.faults.clear();
    await redriveByCopy(sqs, runtime.queues.deadLetterQueueUrl, runtime.queues.queueUrl);
    await waitFor('the charge', finalRecord(orderId));
    expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(1);
  }, 90_000);

  it('does not charge again a redriven message whose order was already charged', async () => {
    const orderId = newOrderId('redrive-charged');
    await post('/payments', order(orderId));
    await sqs.send(new SendMessageCommand({ QueueUrl: runtime.queues.deadLetterQueueUrl, MessageBody: JSON.stringify(order(orderId)) }));

    const waiting = (await deadLetters()).length;
    // Ends although permanent failures among the redriven come straight back to the dead-letter queue.
    expect(await redriveByCopy(sqs, runtime.queues.deadLetterQueueUrl, runtime.queues.queueUrl)).toBe(waiting);
    await waitFor('the queue to drain', queueEmpty);
    expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(stripeRequests(orderId)).toBe(1);
    expect((await deadLetterFor(orderId)()) ?? null).toBeNull();
  });

  it('loses nothing: every 202 ends as a final ledger record or a dead letter', async () => {
    const good = Array.from({ length: 12 }, (_, i) => order(newOrderId(`mix-${i}`)));
    const submissions = [
      ...good,
      ...good.slice(0, 4), // duplicates
      ...Array.from({ length: 4 }, (_, i) => order(newOrderId(`mix-decline-${i}`), { paymentMethod: 'pm_card_chargeDeclined' })),
      ...Array.from({ length: 2 }, (_, i) => ({ orderId: newOrderId(`mix-later-${i}`), amount: 700, currency: 'usd' })),
      ...good.slice(4, 7).map((submission) => ({ ...submission, amount: 1234 })), // same orderId, another amount
    ];
    const answers = await Promise.all(submissions.map((submission) => post('/payments/async', submission)));
    expect(answers.filter((answer) => answer.status === 202)).toHaveLength(submissions.length);
    await waitFor('the queue to drain', queueEmpty, 60_000);

    const letters = await deadLetters();
    let charged = 0;
    let deadLettered = 0;
    for (const submission of submissions) {
      const record = await readLedger(submission.orderId);
      expect(record && FINAL.has(record.status)).toBe(true);
      if (record?.amount === submission.amount) charged += 1;
      else if (letters.some((letter) => letter.orderId === submission.orderId && letter.amount === submission.amount)) deadLettered += 1;
    }
    expect({ charged, deadLettered }).toEqual({ charged: submissions.length - 3, deadLettered: 3 });
    for (const { orderId } of new Set(submissions)) {
      expect(stripe.paymentIntentsForOrder(orderId)).toHaveLength(1);
      expect(stripeRequests(orderId)).toBe(1);
    }
  }, 90_000);
});

describe('the local API hands requests to the handlers as API Gateway does', () => {
  it('percent-decodes path parameters: GET /payments/<prefix>%3A1 finds order <prefix>:1', async () => {
    const orderId = `${newOrderId('colon')}:1`;
    expect((await post('/payments', order(orderId))).status).toBe(201);
    const response = await fetch(`${runtime.url}/payments/${encodeURIComponent(orderId)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ orderId, status: 'charged' });
    expect((await fetch(`${runtime.url}/payments/bad%E0%A4`)).status).toBe(400);
  });

  it('treats a header or query parameter named __proto__ as just a name', async () => {
    const orderId = newOrderId('proto');
    // fetch drops a header named __proto__; node:http sends it as a client may.
    const send = (method: string, path: string, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest(`${runtime.url}${path}`, { method, headers: { 'content-type': 'application/json' } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.setHeader('__proto__', 'x');
        request.on('error', reject);
        request.end(body);
      });
    expect(await send('POST', '/payments?__proto__=x&constructor=y', JSON.stringify(order(orderId)))).toBe(201);
    expect(await send('GET', `/payments/${orderId}?__proto__=x`)).toBe(200);
  });
});

describe('retries on the schedule as deployed', () => {
  let deployed: LocalRuntime;
  beforeAll(async () => {
    // The contract's visibility timeout and retry schedule, beside the shortened runtime's parts.
    deployed = await startLocalRuntime({
      port: 0,
      namePrefix: `d${randomUUID().slice(0, 8)}-`,
      dynamoDbEndpoint: runtime.dynamoDbEndpoint,
      sqsEndpoint: runtime.sqsEndpoint,
      stripeSecretKey: stripe.apiKey,
      stripeApiBase: stripe.url,
      ...NO_PERIODIC_RUNS,
    });
  });
  afterAll(() => deployed?.stop());

  it('charges an order whose first two receives hit Stripe 5xx within 30 s of being queued, not after the visibility timeout', async () => {
    const orderId = newOrderId('blip');
    stripe.faults.failNext(2 * 3, 503); // two receives, each the SDK's try and its two retries
    const queuedAt = Date.now();
    const response = await fetch(`${deployed.url}/payments/async`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(order(orderId)),
    });
    expect(response.status).toBe(202);

    const readDeployedLedger = createLedgerReader(dynamoDb, deployed.tables.ledgerTableName);
    const record = await waitFor('the charge', async () => ((await readDeployedLedger(orderId))?.status === 'charged' ? true : undefined), 30_000);
    expect(record).toBe(true);
    expect(Date.now() - queuedAt).toBeLessThan(30_000);
    expect(stripe.stats().requestsByIdempotencyKey[stripeIdempotencyKey(deployed.namespace, orderId)]).toBe(2 * 3 + 1);
  }, 40_000);
});

describe('the worker paced by a small Stripe budget (STRIPE_REQUESTS_PER_SECOND=5)', () => {
  const SMALL_BUDGET = 5;
  let paced: LocalRuntime;
  beforeAll(async () => {
    paced = await startLocalRuntime({
      port: 0,
      namePrefix: `p${randomUUID().slice(0, 8)}-`,
      dynamoDbEndpoint: runtime.dynamoDbEndpoint,
      sqsEndpoint: runtime.sqsEndpoint,
      stripeSecretKey: stripe.apiKey,
      stripeApiBase: stripe.url,
      stripeRequestsPerSecond: SMALL_BUDGET,
      ...NO_PERIODIC_RUNS,
    });
  });
  afterAll(() => paced?.stop());

  it('stays within its share however fast Stripe answers: a limiter of PaymentIntent creations at the share never refuses it', async () => {
    const { worker } = stripeBudgetOf(SMALL_BUDGET);
    // One more per invocation: the time a charge takes to reach Stripe varies, so two starts 1/rate apart may arrive closer.
    stripe.faults.limitRequestsPerSecond(Math.ceil(worker.requestsPerSecond) + worker.maxConcurrency, 'POST /v1/payment_intents');
    const refusedBefore = stripe.stats().rateLimited;
    const orderIds = Array.from({ length: 5 * worker.batchSize * worker.maxConcurrency }, () => newOrderId('paced'));
    for (const orderId of orderIds) {
      const response = await fetch(`${paced.url}/payments/async`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(order(orderId)),
      });
      expect(response.status).toBe(202);
    }
    const readPacedLedger = createLedgerReader(dynamoDb, paced.tables.ledgerTableName);
    for (const orderId of orderIds) await waitFor('the charge', async () => (await readPacedLedger(orderId))?.status === 'charged', 60_000);
    expect(stripe.stats().rateLimited - refusedBefore).toBe(0);
  }, 90_000);
});
