import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createPendingLedger, createRefundsLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createStripePayments, createStripeRefunds } from '../../lambdas/adapters/stripe-payments';
import { DESCRIPTION_MAX_CHARACTERS } from '../../lambdas/contract/payment-request';
import { createReconcilePending } from '../../lambdas/core/reconcile-pending';
import { createReconcileRefunds } from '../../lambdas/core/reconcile-refunds';
import { MAX_REFUNDS_PER_ORDER } from '../../lambdas/core/refund-order';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { lambdaContext } from '../../local/lambda-context';
import { type LocalParts, ledgerRecord, newOrderId, refundEvent, refundHandler, startLocalParts } from '../support/local-parts';
import {
  CHARGED_AMOUNT,
  chargeOrder,
  deliverWebhooksOf as deliverWebhooksOfPayment,
  hookedLedgerClient,
  refundsAtStripe as refundsAtStripeOf,
} from '../support/refunds';

/**
 * Refunds raced against themselves, webhooks, Dashboard refunds, lost answers and the reconciler,
 * from a hostile review: each test names a property that once failed and the sequence behind it.
 */
let parts: LocalParts;
let refund: ApiHandler;
const extraClients: DynamoDBClient[] = [];
beforeAll(async () => {
  parts = await startLocalParts();
  refund = refundHandler(parts);
});
afterAll(async () => {
  for (const client of extraClients) client.destroy();
  await parts?.stop();
});
afterEach(() => parts.stripeEmulator.faults.clear());

const AMOUNT = CHARGED_AMOUNT;
const body = (response: { body: string }) => JSON.parse(response.body);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ask = (handler: ApiHandler, orderId: string, request: Record<string, unknown>, remainingMs?: number) =>
  handler(refundEvent(orderId, request), lambdaContext(remainingMs));

async function chargedOrder(label: string, paymentMethod = 'pm_card_visa', description?: string): Promise<{ orderId: string; paymentId: string }> {
  const charged = await chargeOrder(parts, newOrderId(label), { paymentMethod, description });
  expect(charged.statusCode).toBe(201);
  return charged;
}
const refundsAtStripe = (paymentId: string) => refundsAtStripeOf(parts, paymentId);
const delivered = new Set<string>();
const deliverWebhooksOf = (paymentId: string) => deliverWebhooksOfPayment(parts, paymentId, delivered);

/** The reconciler as deployed, charges and refunds (grace 0: everything is old enough). */
async function runReconciler() {
  const graceSeconds = 0;
  await createReconcilePending({
    ledger: createPendingLedger(parts.dynamoDb, parts.tables.ledgerTableName),
    payments: createStripePayments(async () => parts.stripe),
    graceSeconds,
  })();
  return createReconcileRefunds({
    ledger: createRefundsLedger(parts.dynamoDb, parts.tables.ledgerTableName),
    payments: createStripeRefunds(async () => parts.stripe),
    graceSeconds,
  })();
}

function hookedDynamoDb(hook: (command: string, send: () => Promise<unknown>) => Promise<unknown>): DynamoDBClient {
  const client = hookedLedgerClient(parts, hook);
  extraClients.push(client);
  return client;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Counts calls: true exactly on the n-th. */
function nth(n: number): () => boolean {
  let calls = 0;
  return () => {
    calls += 1;
    return calls === n;
  };
}

describe('the ledger and Stripe end in agreement', () => {
  it("a refund request never undoes what Stripe's refund events recorded (Dashboard refund, then an API refund Stripe refuses)", async () => {
    const { orderId, paymentId } = await chargedOrder('attack-dashboard');
    // A support agent refunds everything in the Dashboard; Stripe tells us through its events.
    parts.stripeEmulator.dashboard.refund(paymentId);
    await deliverWebhooksOf(paymentId);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'refunded', amountRefunded: AMOUNT });

    const refused = await ask(refund, orderId, { refundId: 'r', amount: 1000 });
    expect(refused.statusCode).toBe(422);

    const record = await ledgerRecord(parts, orderId);
    expect({ status: record?.status, amountRefunded: record?.amountRefunded }).toEqual({ status: 'refunded', amountRefunded: AMOUNT });
  });

  it("a refund event landing between Stripe's answer and its recording is not overwritten (amountRefunded ends as Stripe's)", async () => {
    const { orderId, paymentId } = await chargedOrder('attack-fact-race');
    parts.stripeEmulator.dashboard.refund(paymentId, { amount: 2000 });
    await deliverWebhooksOf(paymentId);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 2000 });

    const secondUpdate = nth(2);
    const racing = refundHandler(
      parts,
      hookedDynamoDb(async (command, send) => {
        // The second ledger write records Stripe's answer; Stripe's webhook for this refund gets there first.
        if (command.startsWith('Update') && secondUpdate()) await deliverWebhooksOf(paymentId);
        return send();
      }),
    );
    expect((await ask(racing, orderId, { refundId: 'r', amount: 3000 })).statusCode).toBe(201);
    await deliverWebhooksOf(paymentId);

    const atStripe = (await refundsAtStripe(paymentId)).reduce((sum, r) => sum + r.amount, 0);
    const record = await ledgerRecord(parts, orderId);
    expect({ atStripe, amountRefunded: record?.amountRefunded }).toEqual({ atStripe: 5000, amountRefunded: 5000 });
  });

  it('a refund Stripe made is recorded even when the client gives up after a 502 and no webhook comes (the reconciler settles `requested`)', async () => {
    const { orderId, paymentId } = await chargedOrder('attack-given-up');
    // Stripe refunds, but every answer (the SDK's retries included) is lost: the client gets 502 and never retries.
    parts.stripeEmulator.faults.dropNextResponses(3);
    expect((await ask(refund, orderId, { refundId: 'r', amount: 4000 })).statusCode).toBe(502);
    const [made] = await refundsAtStripe(paymentId);
    expect(made).toMatchObject({ status: 'succeeded', amount: 4000 });

    expect(await runReconciler()).toMatchObject({ settled: 1, failed: 0 });

    const record = await ledgerRecord(parts, orderId);
    expect({ entry: record?.refunds?.r?.status, stripeRefundId: record?.refunds?.r?.stripeRefundId, amountRefunded: record?.amountRefunded }).toEqual({
      entry: 'succeeded',
      stripeRefundId: made.id,
      amountRefunded: 4000,
    });
  });

  it('a reservation Stripe never saw is released without a client retry (the reconciler settles `requested`)', async () => {
    const { orderId, paymentId } = await chargedOrder('attack-reserved-forever');
    // Stripe unreachable (every attempt dropped before it is processed): 502, and the client never comes back.
    parts.stripeEmulator.faults.dropNextRequests(3);
    expect((await ask(refund, orderId, { refundId: 'everything' })).statusCode).toBe(502);
    expect(await refundsAtStripe(paymentId)).toHaveLength(0);

    expect(await runReconciler()).toMatchObject({ released: 1, failed: 0 });

    // Nothing was refunded, so the whole payment must be refundable again for another refundId.
    const later = await ask(refund, orderId, { refundId: 'another', amount: AMOUNT });
    expect({ status: later.statusCode, code: body(later).error?.code }).toEqual({ status: 201, code: undefined });
  });
});

describe('refunds that finish later, with no webhook', () => {
  it("a pending refund settles from Stripe's side; one that fails later gives its amount back", async () => {
    const pending = await chargedOrder('later-pending', 'pm_card_pendingRefund');
    const failing = await chargedOrder('later-failing', 'pm_card_refundFail');
    expect(body(await ask(refund, pending.orderId, { refundId: 'r', amount: 4000 }))).toMatchObject({ status: 'pending' });
    expect(body(await ask(refund, failing.orderId, { refundId: 'r', amount: 4000 }))).toMatchObject({ status: 'succeeded' });
    expect(await ledgerRecord(parts, pending.orderId)).toMatchObject({ status: 'charged', amountRefunded: 0, refundReserved: 4000 });

    parts.stripeEmulator.refunds.settlePending();
    expect(await runReconciler()).toMatchObject({ settled: 1, failed: 0 });
    expect(await ledgerRecord(parts, pending.orderId)).toMatchObject({
      status: 'partially_refunded',
      amountRefunded: 4000,
      refunds: { r: { status: 'succeeded' } },
    });
    // A refund Stripe answered `succeeded` is settled: only its own event (refund.failed) tells the ledger otherwise.
    await deliverWebhooksOf(failing.paymentId);
    expect(await ledgerRecord(parts, failing.orderId)).toMatchObject({
      status: 'charged',
      amountRefunded: 0,
      refundReserved: 0,
      refunds: { r: { status: 'failed' } },
    });
    expect((await ask(refund, failing.orderId, { refundId: 'again', amount: AMOUNT })).statusCode).toBe(201);
  });
});

describe('the same refundId, resumed after the key lock expired, racing a release', () => {
  it('a refund Stripe made on resume is in the ledger; the refused call releases nothing the resumed one holds', async () => {
    // pm_card_refundFail: a refund is answered succeeded and may fail later, giving its amount back.
    const { orderId, paymentId } = await chargedOrder('attack-release-race', 'pm_card_refundFail');
    // A Dashboard refund takes everything for now (the ledger does not know: no webhook).
    const dashboard = parts.stripeEmulator.dashboard.refund(paymentId);

    const bHasRead = deferred();
    const aReleased = deferred();
    let bAnswer: Promise<{ statusCode: number; body: string }> | undefined;
    const firstRead = nth(1);
    const b = refundHandler(
      parts,
      hookedDynamoDb(async (command, send) => {
        const result = await send();
        if (command.startsWith('Get') && firstRead()) {
          bHasRead.resolve();
          await aReleased.promise;
        }
        return result;
      }),
    );
    const release = nth(2);
    const a = refundHandler(
      parts,
      hookedDynamoDb(async (command, send) => {
        if (!command.startsWith('Update') || !release()) return send();
        // A's second ledger write is the release after Stripe refused. A's key lock has expired by
        // now (a short Lambda deadline): the client's retry B claims the key and reads `requested`.
        await sleep(150);
        bAnswer = ask(b, orderId, { refundId: 'r', amount: 4000 });
        await bHasRead.promise;
        const result = await send();
        // The Dashboard refund fails at the bank: its amount is refundable at Stripe again.
        parts.stripeEmulator.refunds.settle(dashboard.id, 'failed');
        aReleased.resolve();
        return result;
      }),
    );

    const aAnswer = await ask(a, orderId, { refundId: 'r', amount: 4000 }, 100);
    const bResult = await (bAnswer as Promise<{ statusCode: number; body: string }>);
    const ours = (await refundsAtStripe(paymentId)).filter((r) => r.metadata?.refundId === 'r');
    expect(ours).toHaveLength(1);

    const record = await ledgerRecord(parts, orderId);
    // A's 422 was true when Stripe gave it; B, the later call, made the refund and says so.
    expect({
      answers: [aAnswer.statusCode, bResult.statusCode],
      ledgerStripeRefundId: record?.refunds?.r?.stripeRefundId,
      refundReserved: record?.refundReserved ?? 0,
    }).toEqual({ answers: [422, 201], ledgerStripeRefundId: ours[0].id, refundReserved: 4000 });
  });
});

describe('many refunds of one order', () => {
  it('60 refundIds at once: every refund Stripe made ends recorded in the ledger (the record step never gives up under contention)', async () => {
    const { orderId, paymentId } = await chargedOrder('attack-contention');
    // Each its own Lambda, as API Gateway would run them; 60 × 1 % never exceeds the payment.
    const handlers = Array.from({ length: 60 }, () => refundHandler(parts));
    await Promise.all(handlers.map((handler, i) => ask(handler, orderId, { refundId: `c-${i}`, amount: AMOUNT / 100 })));
    const made = (await refundsAtStripe(paymentId)).map((r) => r.metadata?.refundId).sort();
    const record = await ledgerRecord(parts, orderId);
    const recorded = Object.entries(record?.refunds ?? {})
      .filter(([, entry]) => entry.stripeRefundId !== undefined)
      .map(([refundId]) => refundId)
      .sort();
    expect(recorded).toEqual(made);
  });

  it(`an order keeps at most ${MAX_REFUNDS_PER_ORDER} refunds, so a refund Stripe made always fits the order's item (DynamoDB's 400 KB)`, async () => {
    // The largest item there can be: the longest description (in 4-byte characters) and every refund with a 255-character refundId.
    const { orderId, paymentId } = await chargedOrder('attack-size', 'pm_card_visa', '😀'.repeat(DESCRIPTION_MAX_CHARACTERS));
    const at = new Date().toISOString();
    const longest = (i: number) => `${'f'.repeat(250)}${String(i).padStart(5, '0')}`;
    const earlier = Object.fromEntries(
      Array.from({ length: MAX_REFUNDS_PER_ORDER }, (_, i) => [
        longest(i),
        {
          amount: 1,
          requestedAmount: 1,
          reason: 'requested_by_customer',
          status: 'failed',
          stripeRefundId: `re_${'0'.repeat(24)}`,
          factVersion: `${'0'.repeat(12)}.03.evt_${'0'.repeat(24)}`,
          attempt: randomUUID(),
          createdAt: at,
          updatedAt: at,
        },
      ]),
    );
    await DynamoDBDocumentClient.from(parts.dynamoDb).send(
      new UpdateCommand({
        TableName: parts.tables.ledgerTableName,
        Key: { orderId },
        UpdateExpression: 'SET refunds = :refunds, refundReserved = :zero, refundsVersion = :count',
        ExpressionAttributeValues: { ':refunds': earlier, ':zero': 0, ':count': MAX_REFUNDS_PER_ORDER },
      }),
    );
    const refused = await ask(refund, orderId, { refundId: longest(MAX_REFUNDS_PER_ORDER), amount: 4000 });
    expect({ status: refused.statusCode, code: body(refused).error.code }).toEqual({ status: 409, code: 'order_not_refundable' });
    expect(await refundsAtStripe(paymentId)).toEqual([]);
  });
});
