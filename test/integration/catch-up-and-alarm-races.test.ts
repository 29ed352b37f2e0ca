import type { Context } from 'aws-lambda';
import { createCatchUpCheckpoint } from '../../lambdas/adapters/catch-up-checkpoint';
import { createStripeEventFeed, createStripeEventHandling, type DeliveryOutcome, isEventInProgress } from '../../lambdas/adapters/stripe-webhooks';
import { METRIC_NAMES } from '../../lambdas/contract/environment';
import { createCatchUpEvents } from '../../lambdas/core/catch-up-events';
import type { PaymentEvent } from '../../lambdas/core/payment-events';
import { lambdaContext } from '../../local/lambda-context';
import { type LocalParts, ledgerRecord, newOrderId, refundEvent, refundHandler, serviceOptions, startLocalParts } from '../support/local-parts';
import { chargeOrder, countingWebhook, hookedLedgerClient, withOwnStripe } from '../support/refunds';

/** From a third review, of the sliced catch-up and the alarms counted on the ledger change: each test names a property that once failed. */
let shared: LocalParts;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  shared = await startLocalParts();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await shared?.stop();
});

const freshParts = () => withOwnStripe(shared, cleanups);

async function chargedOrder(parts: LocalParts, label: string, paymentMethod = 'pm_card_visa') {
  const charged = await chargeOrder(parts, newOrderId(label), { paymentMethod });
  expect(charged.statusCode).toBe(201);
  return charged;
}

/**
 * A ledger client whose first UpdateItem after `arm()` lands in DynamoDB but loses its answer, so the
 * SDK sends it again (what its retry does after a socket timeout): the request is applied once, answered for the second send.
 */
function lostAnswerOnce(parts: LocalParts) {
  let armed = false;
  const client = hookedLedgerClient(parts, async (command, send) => {
    if (!armed || !command.startsWith('Update')) return send();
    armed = false;
    await send(); // landed; the answer never reached us
    return send(); // the SDK's retry of the same request
  });
  cleanups.push(() => client.destroy());
  return { client, arm: () => (armed = true) };
}

describe('alarms counted on the ledger change', () => {
  it('a dispute whose ledger write landed but lost its answer (SDK retry) still raises DisputeOpened', async () => {
    const parts = await freshParts();
    const { orderId, paymentId } = await chargedOrder(parts, 'dispute-lost-answer');
    const lossy = lostAnswerOnce(parts);
    const { deliver, count } = countingWebhook(parts, lossy.client);
    for (const event of parts.stripeEmulator.webhooks.events()) await deliver(event);

    parts.stripeEmulator.dashboard.dispute(paymentId);
    lossy.arm();
    for (const event of parts.stripeEmulator.webhooks.events().filter((event) => event.type.startsWith('charge.dispute.'))) {
      await deliver(event);
      await deliver(event); // and Stripe redelivers, for good measure
    }

    expect(await ledgerRecord(parts, orderId)).toMatchObject({ dispute: { status: 'needs_response' } });
    expect(count(METRIC_NAMES.disputeOpened)).toBe(1);
  });

  it('a refund whose move to `failed` landed but lost its answer (SDK retry) still raises RefundFailed', async () => {
    const parts = await freshParts();
    const { orderId } = await chargedOrder(parts, 'refund-fail-lost-answer', 'pm_card_refundFail');
    const answer = await refundHandler(parts)(refundEvent(orderId, { refundId: 'r', amount: 4000 }), lambdaContext());
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'succeeded' });
    const lossy = lostAnswerOnce(parts);
    const { deliver, count } = countingWebhook(parts, lossy.client);
    for (const event of parts.stripeEmulator.webhooks.events()) await deliver(event);

    const before = parts.stripeEmulator.webhooks.events().length;
    parts.stripeEmulator.refunds.settlePending('failed');
    lossy.arm();
    for (const event of parts.stripeEmulator.webhooks.events().slice(before)) await deliver(event);

    expect((await ledgerRecord(parts, orderId))?.refunds?.r?.status).toBe('failed');
    expect(count(METRIC_NAMES.refundFailed)).toBe(1);
  });
});

describe('the sliced Events API catch-up', () => {
  function catchUpOf(parts: LocalParts, handled: PaymentEvent[], now = () => new Date()) {
    const handle = createStripeEventHandling(serviceOptions(parts)) as (event: PaymentEvent, context?: Context) => Promise<DeliveryOutcome>;
    return createCatchUpEvents<DeliveryOutcome, Context>({
      feed: createStripeEventFeed(async () => parts.stripe),
      checkpoint: createCatchUpCheckpoint(parts.dynamoDb, parts.tables.idempotencyTableName),
      handleEvent: async (event, context) => {
        handled.push(event);
        return handle(event, context);
      },
      isInProgress: isEventInProgress,
      now,
    });
  }

  it('a run whose time runs out in the middle of a slice stops there (it is not killed at its timeout with its counts unpublished)', async () => {
    const parts = await freshParts();
    const orders = [];
    for (const label of ['slice-time-a', 'slice-time-b', 'slice-time-c']) orders.push(await chargedOrder(parts, label));
    const handled: PaymentEvent[] = [];
    const catchUp = catchUpOf(parts, handled);
    const invocation = lambdaContext(240_000, 'catchUpEvents');
    expect(await catchUp({ invocation })).toMatchObject({ failed: 0, unfinished: false });

    // Webhooks down: Dashboard refunds of three orders, each traced through a Stripe read when applied (slow).
    for (const { paymentId } of orders) parts.stripeEmulator.dashboard.refund(paymentId, { amount: 1000 });
    handled.length = 0;
    // The function's clock: out of time as soon as the first refund event has been applied.
    const outOfTime = () => handled.some((event) => event.type.startsWith('refund.') || event.type === 'charge.refund.updated');
    const summary = await catchUp({ invocation, outOfTime });

    const firstRefund = handled.findIndex((event) => event.type.startsWith('refund.') || event.type === 'charge.refund.updated');
    expect({ appliedAfterOutOfTime: handled.length - firstRefund - 1, unfinished: summary.unfinished }).toEqual({
      appliedAfterOutOfTime: 0,
      unfinished: true,
    });
  });

  it('a `--since` run on a deployment with no checkpoint yet does not move the checkpoint past the first run’s 72 h look-back', async () => {
    const parts = await freshParts();
    let shiftMs = 0;
    const catchUp = catchUpOf(parts, [], () => new Date(Date.now() + shiftMs));
    // Webhooks were never reaching the new stack: a payment and a Dashboard refund exist only in the Events API.
    const { orderId, paymentId } = await chargedOrder(parts, 'since-first');
    parts.stripeEmulator.dashboard.refund(paymentId, { amount: 2500 });

    // Two hours later the operator tries the command once, `--since 1h`, before the schedule is enabled.
    shiftMs = 2 * 3_600_000;
    const invocation = lambdaContext(240_000, 'catchUpEvents');
    const nowSeconds = Math.floor((Date.now() + shiftMs) / 1000);
    expect(await catchUp({ invocation, since: nowSeconds - 3600 })).toMatchObject({ failed: 0, events: 0 });
    // The schedule starts: the first scheduled run would have read 72 h back.
    shiftMs += 5 * 60_000;
    await catchUp({ invocation });

    expect((await ledgerRecord(parts, orderId))?.amountRefunded ?? 0).toBe(2500);
  });
});
