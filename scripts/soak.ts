/**
 * The soak, run by `npm run bench`: thousands of orders through the sync and the queue path at
 * once, with duplicates and random faults (a failure or a crash before or after any step), no
 * client retries and no webhooks; then the queue and the reconciler run until nothing moves, and
 * the outcome is counted; then about half the charged orders are refunded the same way.
 * Bounded: SOAK_ORDERS (default 3000), SOAK_FAULT_RATE per request (default 0.02), SOAK_SEED for a
 * repeatable run.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type Stripe from 'stripe';
import { createChargeService, createRefundService } from '../lambdas/adapters/charge-service';
import { createLedgerReader, createLedgerWindowReader } from '../lambdas/adapters/dynamodb-ledger';
import type { ChargeRequest } from '../lambdas/contract/payment-request';
import type { LedgerRecord } from '../lambdas/core/charge-order';
import { createChargePaymentHandler } from '../lambdas/handlers/charge-payment';
import { createRefundPaymentHandler } from '../lambdas/handlers/refund-payment';
import { lambdaContext } from '../local/lambda-context';
import { createTables, localTableNames } from '../local/tables';
import { auditDeployment, type Deployment, faultyServiceOptions, LOCK_MS, messagesOn, runToQuiescence, startFaultyWorker } from '../test/support/fault-runs';
import { randomFaults } from '../test/support/faults';
import { type LocalParts, postEvent, refundEvent, silentLogger } from '../test/support/local-parts';

/** The reconciler's clock in the soak: past the hour after which search's "none" is trusted. */
const RECONCILER_AHEAD_MS = 2 * 3_600_000;

const ORDERS = Number(process.env.SOAK_ORDERS ?? 3000);
const FAULT_RATE = Number(process.env.SOAK_FAULT_RATE ?? 0.02);
const SEED = Number(process.env.SOAK_SEED ?? 42);
const SYNC_INSTANCES = 8;
const WORKERS = 4;
const CONCURRENT_ORDERS = 25;

/** A small seeded generator (mulberry32), so a run can be repeated exactly. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function soak(parts: LocalParts, sqs: SQSClient): Promise<string[]> {
  const random = seeded(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const deployment = { namespace: `soak-${randomUUID().slice(0, 6)}`, tables: localTableNames(`soak${randomUUID().slice(0, 6)}-`) };
  await createTables(parts.dynamoDb, deployment.tables);
  const instances = Array.from({ length: SYNC_INSTANCES }, () => faultyServiceOptions(parts, deployment, randomFaults(FAULT_RATE, random)));
  const handlers = instances.map((options) => createChargePaymentHandler(createChargeService(options, 'api'), silentLogger));
  const workers = await Promise.all(
    Array.from({ length: WORKERS }, (_, i) => startFaultyWorker(parts, sqs, deployment, randomFaults(FAULT_RATE, random), `${deployment.namespace}-w${i}-`)),
  );

  const methods = [
    'pm_card_visa',
    'pm_card_visa',
    'pm_card_visa',
    'pm_card_visa',
    'pm_card_visa',
    'pm_card_visa',
    'pm_card_chargeDeclined',
    'pm_card_authenticationRequired',
  ];
  const orders: ChargeRequest[] = Array.from({ length: ORDERS }, (_, i) => ({
    orderId: `${deployment.namespace}-${i}`,
    amount: 500 + i,
    currency: 'eur',
    paymentMethod: pick(methods),
  }));
  const counts = { syncCalls: 0, queuedMessages: 0, duplicates: 0, unanswered: 0 };
  const sendSync = async (order: ChargeRequest) => {
    counts.syncCalls += 1;
    const answer = await Promise.race([pick(handlers)(postEvent(order), lambdaContext(LOCK_MS)), new Promise((resolve) => setTimeout(resolve, LOCK_MS + 500))]);
    if (answer === undefined) counts.unanswered += 1; // a crash: the client never hears back, and does not retry
  };
  const sendQueued = async (order: ChargeRequest) => {
    counts.queuedMessages += 1;
    await sqs.send(new SendMessageCommand({ QueueUrl: pick(workers).queueUrl, MessageBody: JSON.stringify(order) }));
  };

  const started = Date.now();
  let next = 0;
  // CONCURRENT_ORDERS clients, each taking the next order as soon as it is done with one.
  const client = async () => {
    for (let order = orders[next++]; order !== undefined; order = orders[next++]) {
      const roll = random();
      // Half sync, most of the rest queued, some both; a fifth sent twice over.
      const sends = roll < 0.45 ? [sendSync] : roll < 0.9 ? [sendQueued] : [sendSync, sendQueued];
      if (random() < 0.2) {
        counts.duplicates += 1;
        sends.push(pick([sendSync, sendQueued]));
      }
      await Promise.all(sends.map((send) => send(order)));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT_ORDERS }, client));
  const sentIn = Date.now() - started;
  try {
    await runToQuiescence(
      parts,
      deployment,
      async () =>
        (await messagesOn(
          sqs,
          workers.map((w) => w.queueUrl),
        )) === 0,
      300_000,
      RECONCILER_AHEAD_MS,
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.poller.stop()));
    for (const options of [...instances, ...workers.map((w) => w.options)]) options.dynamoDb.destroy();
  }
  const settledIn = Date.now() - started;

  const records: LedgerRecord[] = [];
  for await (const record of createLedgerWindowReader(parts.dynamoDb, deployment.tables.ledgerTableName)(new Date(started - 60_000), new Date()))
    records.push(record);
  const recorded = new Set(records.map((record) => record.orderId));
  const byStatus = (status: string) => records.filter((record) => record.status === status).length;
  const intents = orders.map((order) => parts.stripeEmulator.paymentIntentsForOrder(order.orderId, deployment.namespace));
  const deadLettered = await messagesOn(
    sqs,
    workers.map((worker) => worker.deadLetterQueueUrl),
  );
  const audit = await auditDeployment(parts, deployment);
  const refundRows = await soakRefunds(parts, deployment, records, random);

  return [
    '## Soak: random faults, duplicates, no client retries, no webhooks',
    '',
    `${ORDERS} orders (seed ${SEED}), sent at most ${CONCURRENT_ORDERS} at a time to ${SYNC_INSTANCES} API "instances" and ${WORKERS} queues with workers, every`,
    `Stripe and DynamoDB request of theirs meeting a random fault with probability ${FAULT_RATE}; then the queues and the reconciler (grace`,
    `1 s, run as it would run ${RECONCILER_AHEAD_MS / 3_600_000} h later: thousands of PaymentIntents a minute are too many to list, so an API order without one waits until Stripe's search is trusted) ran until nothing was pending. Sent in ${(sentIn / 1000).toFixed(1)} s, settled in ${(settledIn / 1000).toFixed(1)} s.`,
    '',
    '| measure | count |',
    '|---|---|',
    `| orders | ${ORDERS} |`,
    `| sync calls / queued messages / extra duplicate sends | ${counts.syncCalls} / ${counts.queuedMessages} / ${counts.duplicates} |`,
    `| sync calls never answered (a crash) | ${counts.unanswered} |`,
    `| orders accepted (a ledger record) | ${records.length} |`,
    `| charged | ${byStatus('charged')} |`,
    `| declined | ${byStatus('declined')} |`,
    `| requires_action | ${byStatus('requires_action')} |`,
    `| expired (nothing charged, nobody retried) | ${byStatus('expired')} |`,
    `| still pending | ${byStatus('pending')} |`,
    `| dead-lettered | ${deadLettered} |`,
    `| queue batches that timed out (a worker crash, or slower than its 1 s) | ${workers.reduce((sum, worker) => sum + worker.timedOutBatches(), 0)} |`,
    `| PaymentIntents created | ${intents.reduce((sum, list) => sum + list.length, 0)} |`,
    `| orders with more than one PaymentIntent | ${intents.filter((list) => list.length > 1).length} |`,
    `| orders with a PaymentIntent but no ledger record | ${orders.filter((order, i) => intents[i].length > 0 && !recorded.has(order.orderId)).length} |`,
    `| audit discrepancies | ${audit.discrepancies.length} |`,
    '',
    ...refundRows,
  ];
}

const REFUND_INSTANCES = 4;

/**
 * The refunds' soak, on the orders the charge soak charged: about half get one to three refunds
 * (random amounts, some for everything left), each request sent once or twice, through refund
 * handlers whose every request meets a random fault; no client retries, no webhooks; then the
 * reconciler runs until no refund is open, and Stripe's refunds are counted against the ledger.
 */
async function soakRefunds(parts: LocalParts, deployment: Deployment, records: LedgerRecord[], random: () => number): Promise<string[]> {
  const instances = Array.from({ length: REFUND_INSTANCES }, () => faultyServiceOptions(parts, deployment, randomFaults(FAULT_RATE, random), 'refund'));
  const handlers = instances.map((options) => createRefundPaymentHandler(createRefundService(options), silentLogger));
  const charged = records.filter((record) => record.status === 'charged');
  const requests = charged.flatMap((record) =>
    random() < 0.5
      ? Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => ({
          orderId: record.orderId,
          body: { refundId: `soak-${i}`, ...(random() < 0.8 && { amount: 1 + Math.floor(random() * record.amount * 0.6) }) },
          copies: random() < 0.2 ? 2 : 1,
        }))
      : [],
  );
  const counts = { calls: 0, unanswered: 0 };
  const started = Date.now();
  let next = 0;
  const client = async () => {
    for (let request = requests[next++]; request !== undefined; request = requests[next++]) {
      await Promise.all(
        Array.from({ length: request.copies }, async () => {
          counts.calls += 1;
          const handler = handlers[Math.floor(random() * handlers.length)];
          const answer = await Promise.race([
            handler(refundEvent(request.orderId, request.body), lambdaContext(LOCK_MS)),
            new Promise((resolve) => setTimeout(resolve, LOCK_MS + 500)),
          ]);
          if (answer === undefined) counts.unanswered += 1;
        }),
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENT_ORDERS }, client));
    await runToQuiescence(parts, deployment, async () => true, 300_000);
  } finally {
    for (const options of instances) options.dynamoDb.destroy();
  }
  const settledIn = Date.now() - started;

  const read = createLedgerReader(parts.dynamoDb, deployment.tables.ledgerTableName);
  const outcomes = { stripeRefunds: 0, twice: 0, overRefunded: 0, ledgerDiffers: 0 };
  for (const record of charged) {
    const refunds: Stripe.Refund[] = [];
    for await (const refund of parts.stripe.refunds.list({ payment_intent: record.paymentId, limit: 100 })) refunds.push(refund);
    const byRefundId = new Map<string, number>();
    for (const refund of refunds) byRefundId.set(String(refund.metadata?.refundId), (byRefundId.get(String(refund.metadata?.refundId)) ?? 0) + 1);
    const refunded = refunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + refund.amount, 0);
    const after = await read(record.orderId);
    outcomes.stripeRefunds += refunds.length;
    outcomes.twice += [...byRefundId.values()].filter((count) => count > 1).length;
    if (refunded > record.amount) outcomes.overRefunded += 1;
    if ((after?.amountRefunded ?? 0) !== refunded || (after?.refundReserved ?? 0) !== refunded) outcomes.ledgerDiffers += 1;
  }
  const audit = await auditDeployment(parts, deployment);
  return [
    '## Soak: refunds of those orders, with random faults',
    '',
    `${requests.length} refund requests for ${new Set(requests.map((request) => request.orderId)).size} of the ${charged.length} charged orders, some sent twice,`,
    `through ${REFUND_INSTANCES} refund "instances" whose every request met a random fault with probability ${FAULT_RATE}; no client retries, no`,
    `webhooks; then the reconciler ran until no refund was open. Sent and settled in ${(settledIn / 1000).toFixed(1)} s.`,
    '',
    '| measure | count |',
    '|---|---|',
    `| refund calls (copies included) / never answered (a crash) | ${counts.calls} / ${counts.unanswered} |`,
    `| refunds made at Stripe | ${outcomes.stripeRefunds} |`,
    `| refundIds refunded more than once at Stripe | ${outcomes.twice} |`,
    `| orders refunded more than charged | ${outcomes.overRefunded} |`,
    `| orders whose ledger refunds differ from Stripe's | ${outcomes.ledgerDiffers} |`,
    `| audit discrepancies | ${audit.discrepancies.length} |`,
    '',
  ];
}
