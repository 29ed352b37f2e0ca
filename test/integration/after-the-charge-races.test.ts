import { createHash, randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import Stripe from 'stripe';
import { createCatchUpCheckpoint } from '../../lambdas/adapters/catch-up-checkpoint';
import { createRefundsLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createStripeClient, createStripeRefunds } from '../../lambdas/adapters/stripe-payments';
import { createStripeEventFeed, createStripeEventHandling, type DeliveryOutcome, isEventInProgress } from '../../lambdas/adapters/stripe-webhooks';
import { METRIC_NAMES } from '../../lambdas/contract/environment';
import { INDEX_SHARDS } from '../../lambdas/contract/tables';
import { createCatchUpEvents } from '../../lambdas/core/catch-up-events';
import type { PaymentEvent } from '../../lambdas/core/payment-events';
import { createReconcileRefunds } from '../../lambdas/core/reconcile-refunds';
import { createCatchUp, createCatchUpHandler } from '../../lambdas/handlers/catch-up-events';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { serviceMetrics } from '../../lambdas/handlers/outcome-metrics';
import { lambdaContext } from '../../local/lambda-context';
import type { StripeEvent } from '../../local/stripe-emulator/stripe-emulator';
import {
  type LocalParts,
  ledgerRecord,
  newOrderId,
  refundEvent,
  refundHandler,
  serviceOptions,
  silentLogger,
  startLocalParts,
  TEST_NAMESPACE,
} from '../support/local-parts';
import { CHARGED_AMOUNT, chargeOrder, countingWebhook, deliverWebhooksOf, hookedLedgerClient, withOwnStripe } from '../support/refunds';

/**
 * From a hostile review of everything after the charge (refunds, refund and dispute events, the
 * Events API catch-up, the refund sweep, the alarms): each test names a property that once failed,
 * with the sequence behind it in its comments.
 */
let shared: LocalParts;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  shared = await startLocalParts();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await shared?.stop();
});

const AMOUNT = CHARGED_AMOUNT;
const body = (response: { body: string }) => JSON.parse(response.body);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The shared DynamoDB Local with fresh tables and a Stripe emulator of its own: its Events API lists only this test's events. */
const freshParts = () => withOwnStripe(shared, cleanups);

async function chargedOrder(parts: LocalParts, orderId: string, paymentMethod = 'pm_card_visa'): Promise<{ orderId: string; paymentId: string }> {
  const charged = await chargeOrder(parts, orderId, { paymentMethod });
  expect(charged.statusCode).toBe(201);
  return charged;
}

const askRefund = (handler: ApiHandler, orderId: string, request: Record<string, unknown>) => handler(refundEvent(orderId, request), lambdaContext());

/** Out of time after `n` items: a run's time budget, counted in items instead of seconds. */
function budget(n: number): () => boolean {
  let asked = 0;
  return () => {
    asked += 1;
    return asked > n;
  };
}

/** The catch-up as deployed (the webhook's handling of each event, the key table's checkpoint, Stripe's Events API). */
function catchUpOf(parts: LocalParts) {
  return createCatchUp(createStripeEventHandling(serviceOptions(parts)), serviceOptions(parts));
}

function hookedDynamoDb(parts: LocalParts, hook: (command: string, send: () => Promise<unknown>) => Promise<unknown>): DynamoDBClient {
  const client = hookedLedgerClient(parts, hook);
  cleanups.push(() => client.destroy());
  return client;
}

describe('refunds of our payments made outside this service', () => {
  it('a refund of our PaymentIntent made by another tool that tags it with metadata.orderId reaches the ledger', async () => {
    // A back-office tool refunds through the API and, as is common, tags the refund with the order it is about.
    const { orderId, paymentId } = await chargedOrder(shared, newOrderId('tagged-refund'));
    const tagged = await shared.stripe.refunds.create({ payment_intent: paymentId, amount: 1500, metadata: { orderId } });
    expect(tagged.status).toBe('succeeded');
    await deliverWebhooksOf(shared, paymentId);

    // The money left our payment: the ledger must know, or it offers it again and the audit disagrees for ever.
    const record = await ledgerRecord(shared, orderId);
    expect({ status: record?.status, amountRefunded: record?.amountRefunded, refundReserved: record?.refundReserved }).toEqual({
      status: 'partially_refunded',
      amountRefunded: 1500,
      refundReserved: 1500,
    });
  });
});

describe('the Events API catch-up', () => {
  it('a backlog that takes several runs is still applied to its oldest event (each run makes progress)', async () => {
    const parts = await freshParts();
    // A backlog spread over time, read in 1 s slices with no overlap (the defaults are 5 min and 5 min).
    const catchUp = createCatchUpEvents({
      feed: createStripeEventFeed(async () => parts.stripe),
      checkpoint: createCatchUpCheckpoint(parts.dynamoDb, parts.tables.idempotencyTableName),
      handleEvent: createStripeEventHandling(serviceOptions(parts)) as (event: PaymentEvent, context?: Context) => Promise<DeliveryOutcome>,
      isInProgress: isEventInProgress,
      sliceSeconds: 1,
      overlapSeconds: 0,
    });
    // A deployment whose catch-up has kept up so far: its checkpoint is a moment ago.
    await createCatchUpCheckpoint(parts.dynamoDb, parts.tables.idempotencyTableName).advance(Math.floor(Date.now() / 1000) - 2);
    const orders = [];
    for (const label of ['backlog-a', 'backlog-b', 'backlog-c']) orders.push(await chargedOrder(parts, newOrderId(label)));
    expect(await catchUp({ invocation: lambdaContext(240_000, 'catchUpEvents') })).toMatchObject({ failed: 0, unfinished: false });

    // The webhook endpoint is down: three Dashboard refunds, seconds apart, reach Stripe's Events API only.
    for (const { paymentId } of orders) {
      await sleep(1100);
      parts.stripeEmulator.dashboard.refund(paymentId, { amount: 1000 });
    }

    // Each run has time for two looks (a slice, then an event; in AWS: 225 s, thousands of events after a long outage).
    const runs = [];
    for (let run = 0; run < 8; run += 1) runs.push(await catchUp({ invocation: lambdaContext(240_000, 'catchUpEvents'), outOfTime: budget(2) }));

    const refunded = await Promise.all(orders.map(async ({ orderId }) => (await ledgerRecord(parts, orderId))?.amountRefunded ?? 0));
    expect({ refunded, runsThatMovedTheCheckpoint: runs.filter((run) => run.checkpoint !== undefined).length }).toEqual({
      refunded: [1000, 1000, 1000],
      runsThatMovedTheCheckpoint: expect.any(Number),
    });
  });

  it('a `--since` run shorter than the gap since the checkpoint does not move the checkpoint past events it never read', async () => {
    const parts = await freshParts();
    let shiftMs = 0;
    const catchUp = createCatchUpEvents({
      feed: createStripeEventFeed(async () => parts.stripe),
      checkpoint: createCatchUpCheckpoint(parts.dynamoDb, parts.tables.idempotencyTableName),
      handleEvent: createStripeEventHandling(serviceOptions(parts)) as (event: PaymentEvent, context?: Context) => Promise<DeliveryOutcome>,
      isInProgress: isEventInProgress,
      // The clock of the runs: moved forward to stand for the hours between them.
      now: () => new Date(Date.now() + shiftMs),
    });
    const { orderId, paymentId } = await chargedOrder(parts, newOrderId('since-gap'));
    const invocation = lambdaContext(240_000, 'catchUpEvents');
    expect(await catchUp({ invocation })).toMatchObject({ failed: 0, checkpoint: expect.any(String) });

    // Webhooks down, and the scheduled runs fail for two hours (say the Stripe key was rotated); meanwhile a Dashboard refund.
    parts.stripeEmulator.dashboard.refund(paymentId, { amount: 2500 });
    shiftMs = 2 * 3_600_000;
    // Once fixed, the operator runs `npm run events:catch-up -- --since 1h`: it completes...
    const nowSeconds = Math.floor((Date.now() + shiftMs) / 1000);
    expect(await catchUp({ invocation, since: nowSeconds - 3600 })).toMatchObject({ failed: 0, events: 0 });
    // ...and the schedule resumes five minutes later.
    shiftMs += 5 * 60_000;
    await catchUp({ invocation });

    expect((await ledgerRecord(parts, orderId))?.amountRefunded ?? 0).toBe(2500);
  });

  it('an event a webhook is applying at that moment does not fail the catch-up run (no alarm, the checkpoint can move)', async () => {
    const parts = await freshParts();
    const { orderId, paymentId } = await chargedOrder(parts, newOrderId('in-flight'));
    const catchUpHandler = createCatchUpHandler(catchUpOf(parts), silentLogger, serviceMetrics(TEST_NAMESPACE));
    await catchUpHandler({}, lambdaContext(240_000, 'catchUpEvents'));

    // Support refunds in the Dashboard; Stripe's webhook for it is being handled (slow DynamoDB) when the scheduled run starts.
    parts.stripeEmulator.dashboard.refund(paymentId, { amount: 1000 });
    const refundCreated = parts.stripeEmulator.webhooks.events().find((event) => event.type === 'refund.created') as StripeEvent;
    let reached: () => void = () => undefined;
    const webhookAtLedger = new Promise<void>((resolve) => (reached = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const slowWebhook = createStripeEventHandling(
      serviceOptions(
        parts,
        hookedDynamoDb(parts, async (_command, send) => {
          reached();
          await released;
          return send();
        }),
      ),
    );
    const webhook = slowWebhook(refundCreated as never, lambdaContext());
    await webhookAtLedger;

    const run = catchUpHandler({}, lambdaContext(240_000, 'catchUpEvents'));
    const settled = await run.then(
      (summary) => ({ threw: false, failed: summary.failed }),
      (error: Error) => ({ threw: true, failed: error.message }),
    );
    release();
    expect(await webhook).toBe('applied');
    expect((await ledgerRecord(parts, orderId))?.amountRefunded).toBe(1000);
    expect(settled).toEqual({ threw: false, failed: 0 });
  });

  it('a payment the customer finished (3-D Secure) and support then refunded, both while webhooks were off, is applied by one run without failing it', async () => {
    const parts = await freshParts();
    const { orderId, paymentId } = await chargedOrder(parts, newOrderId('three-ds-then-refund'), 'pm_card_authenticationRequired');
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'requires_action' });
    const catchUpHandler = createCatchUpHandler(catchUpOf(parts), silentLogger, serviceMetrics(TEST_NAMESPACE));
    await catchUpHandler({}, lambdaContext(240_000, 'catchUpEvents'));

    // The customer finishes the payment in the browser; support refunds part of it; no webhook arrives.
    await parts.stripe.paymentIntents.confirm(paymentId, { payment_method: 'pm_card_visa' });
    parts.stripeEmulator.dashboard.refund(paymentId, { amount: 1000 });

    // Both events are in the run's window: the run is complete, nothing failed, nothing to alarm about.
    const run = await catchUpHandler({}, lambdaContext(240_000, 'catchUpEvents')).then(
      (summary) => ({ threw: false, failed: summary.failed }),
      (error: Error) => ({ threw: true, failed: error.message }),
    );
    const record = await ledgerRecord(parts, orderId);
    expect({ run, status: record?.status, amountRefunded: record?.amountRefunded }).toEqual({
      run: { threw: false, failed: 0 },
      status: 'partially_refunded',
      amountRefunded: 1000,
    });
  });
});

describe('the refund sweep of the reconciler', () => {
  /** A fresh orderId that lands on the given shard of the ledger's indexes (the ledger's own hash). */
  const orderIdOnShard = (label: string, shard: number) => {
    for (;;) {
      const orderId = newOrderId(label);
      if (createHash('sha256').update(orderId).digest().readUInt32BE(0) % INDEX_SHARDS === shard) return orderId;
    }
  };

  it('a sweep that cannot finish in one run still releases a reservation Stripe never made behind refunds that stay pending', async () => {
    const parts = await freshParts();
    const refund = refundHandler(parts);
    // Two refunds that stay pending at Stripe for days (bank refunds), then one whose Stripe call never arrived.
    for (const label of ['long-pending-a', 'long-pending-b']) {
      const { orderId } = await chargedOrder(parts, orderIdOnShard(label, 3), 'pm_card_pendingRefund');
      expect(body(await askRefund(refund, orderId, { refundId: 'r', amount: 4000 }))).toMatchObject({ status: 'pending' });
    }
    await sleep(20);
    const { orderId: neverMade } = await chargedOrder(parts, orderIdOnShard('never-made', 3));
    parts.stripeEmulator.faults.dropNextRequests(3);
    expect((await askRefund(refund, neverMade, { refundId: 'r', amount: AMOUNT })).statusCode).toBe(502);
    parts.stripeEmulator.faults.clear();
    expect(await ledgerRecord(parts, neverMade)).toMatchObject({ refundReserved: AMOUNT });
    await sleep(20);

    // Each run has time for two orders (in AWS: 225 s, a thousand or so Stripe reads).
    const sweep = createReconcileRefunds({
      ledger: createRefundsLedger(parts.dynamoDb, parts.tables.ledgerTableName),
      payments: createStripeRefunds(async () => parts.stripe),
      graceSeconds: 0,
    });
    const runs = [];
    for (let run = 0; run < 5; run += 1) runs.push(await sweep({ outOfTime: budget(2) }));

    const record = await ledgerRecord(parts, neverMade);
    expect({ refundReserved: record?.refundReserved, released: runs.reduce((sum, run) => sum + run.released, 0) }).toEqual({ refundReserved: 0, released: 1 });
  });

  it('a refund that fails at Stripe while the reconciler is recording it `succeeded` ends `failed` in the ledger', async () => {
    const { orderId, paymentId } = await chargedOrder(shared, newOrderId('fails-during-sweep'), 'pm_card_refundFail');
    // Stripe refunds, every answer is lost: the entry stays `requested`, the client never retries.
    shared.stripeEmulator.faults.dropNextResponses(3);
    expect((await askRefund(refundHandler(shared), orderId, { refundId: 'r', amount: 4000 })).statusCode).toBe(502);
    shared.stripeEmulator.faults.clear();
    const [made] = (await shared.stripe.refunds.list({ payment_intent: paymentId })).data;
    expect(made).toMatchObject({ status: 'succeeded' });

    // The reconciler lists the PaymentIntent's refunds (`succeeded`); the refund fails at the bank right after,
    // and the reconciler's write lands in the next second (a slow write, a retry under contention).
    const inner = Stripe.createNodeHttpClient();
    let first = true;
    class ThenFails extends Stripe.HttpClient {
      override getClientName() {
        return inner.getClientName();
      }
      override async makeRequest(...args: Parameters<Stripe.HttpClient['makeRequest']>) {
        const [, , path, method] = args;
        const response = await inner.makeRequest(...args);
        if (first && method === 'GET' && path.startsWith('/v1/refunds')) {
          first = false;
          await response.toJSON().then((json) => Object.assign(response, { toJSON: async () => json }));
          shared.stripeEmulator.refunds.settle(made.id, 'failed');
          await sleep(1100 - (Date.now() % 1000));
        }
        return response;
      }
    }
    const readingStripe = createStripeClient(shared.stripeEmulator.apiKey, shared.stripeEmulator.url, new ThenFails());
    const sweep = createReconcileRefunds({
      ledger: createRefundsLedger(shared.dynamoDb, shared.tables.ledgerTableName),
      payments: createStripeRefunds(async () => readingStripe),
      graceSeconds: 0,
    });
    expect(await sweep()).toMatchObject({ settled: 1, failed: 0 });

    // Stripe's events about the refund (created, then failed) arrive after it; the sweep runs again.
    await deliverWebhooksOf(shared, paymentId);
    await sweep();

    expect((await shared.stripe.refunds.retrieve(made.id)).status).toBe('failed');
    const record = await ledgerRecord(shared, orderId);
    expect({ entry: record?.refunds?.r?.status, amountRefunded: record?.amountRefunded, refundReserved: record?.refundReserved }).toEqual({
      entry: 'failed',
      amountRefunded: 0,
      refundReserved: 0,
    });
  });
});

describe('the alarms on facts that need a person', () => {
  it('every refund that fails at Stripe after it was answered `succeeded` raises RefundFailed once (webhooks delivered in order)', async () => {
    const parts = await freshParts();
    const refund = refundHandler(parts);
    const failing = [];
    for (let i = 0; i < 6; i += 1) {
      const { orderId, paymentId } = await chargedOrder(parts, newOrderId(`refund-fails-${i}`), 'pm_card_refundFail');
      expect(body(await askRefund(refund, orderId, { refundId: 'r', amount: 4000 }))).toMatchObject({ status: 'succeeded' });
      failing.push({ orderId, paymentId });
    }
    const { deliver, count } = countingWebhook(parts);
    for (const event of parts.stripeEmulator.webhooks.events()) await deliver(event);
    // The bank refuses every one: refund.updated, charge.refund.updated and refund.failed, in that order, in one second.
    const before = parts.stripeEmulator.webhooks.events().length;
    parts.stripeEmulator.refunds.settlePending('failed');
    for (const event of parts.stripeEmulator.webhooks.events().slice(before)) await deliver(event);

    const entries = await Promise.all(failing.map(async ({ orderId }) => (await ledgerRecord(parts, orderId))?.refunds?.r?.status));
    expect({ entries, refundFailed: count(METRIC_NAMES.refundFailed) }).toEqual({ entries: failing.map(() => 'failed'), refundFailed: 6 });
  });

  it('a dispute whose created event arrives after a later update (still needs_response) raises DisputeOpened', async () => {
    const parts = await freshParts();
    const { orderId, paymentId } = await chargedOrder(parts, newOrderId('dispute-reordered'));
    const { deliver, count } = countingWebhook(parts);
    for (const event of parts.stripeEmulator.webhooks.events()) await deliver(event);
    parts.stripeEmulator.dashboard.dispute(paymentId);
    const created = parts.stripeEmulator.webhooks.events().find((event) => event.type === 'charge.dispute.created') as StripeEvent;
    // Stripe updates the dispute a second later (evidence details, metadata): still needs_response. Stripe sends events in no fixed order.
    const updated = { ...created, id: `evt_${randomUUID().replace(/-/g, '')}`, type: 'charge.dispute.updated', created: created.created + 1 };
    await deliver(updated);
    await deliver(created);

    expect(await ledgerRecord(parts, orderId)).toMatchObject({ dispute: { status: 'needs_response' } });
    expect(count(METRIC_NAMES.disputeOpened)).toBe(1);
  });
});
