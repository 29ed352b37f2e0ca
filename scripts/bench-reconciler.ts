/**
 * The reconciler's throughput, for `npm run bench` (or alone: `node --import tsx scripts/bench-reconciler.ts`):
 * pending records settled per minute against DynamoDB Local and the Stripe emulator, while another
 * deployment makes PaymentIntents in the same account. The mix: orders Stripe charged, API orders
 * with no PaymentIntent old enough for search to be trusted (expired on search's word), and a few
 * young API orders whose minutes are too busy to list (put off until search can be trusted).
 */
import { randomUUID } from 'node:crypto';
import { createDynamoDbLedger, createPendingLedger } from '../lambdas/adapters/dynamodb-ledger';
import { createStripePayments } from '../lambdas/adapters/stripe-payments';
import type { ChargeRequest } from '../lambdas/contract/payment-request';
import { stripeBudgetOf } from '../lambdas/contract/stripe-budget';
import { pendingRecordOf } from '../lambdas/core/charge-order';
import { createReconcilePending, LISTING_PAGE_CAP, type ReconcileSummary } from '../lambdas/core/reconcile-pending';
import { createTables, localTableNames } from '../local/tables';
import { type LocalParts, startLocalParts, TEST_NAMESPACE } from '../test/support/local-parts';
import { paymentIntentCreateFor } from '../test/support/orders';

export interface ReconcilerBenchOptions {
  /** Pending records written before the run (default 200). */
  pendingRecords?: number;
  /** Another deployment's PaymentIntents per second in the same account during the run (default 100). */
  unrelatedPaymentIntentsPerSecond?: number;
  /** Its PaymentIntents made just before the run, so search and listings have an account's worth to go through (default 5,000). */
  unrelatedPaymentIntentsBefore?: number;
  /**
   * The Stripe budget the reconciler's share comes from (default 100: its share is then capped by
   * Stripe's search limit, 10 requests/s). The emulator has no limit; this keeps the run realistic.
   */
  stripeRequestsPerSecond?: number;
  /** Local parts to reuse (the bench's own); started and stopped here when not given. */
  parts?: LocalParts;
}

export interface ReconcilerBenchResult {
  pendingRecords: number;
  /** Records settled (Stripe's state) or expired per minute of the run; those put off until search is trusted are in `summary.waiting`. */
  settledPerMinute: number;
  /** The unrelated traffic measured during the run. */
  unrelatedPaymentIntentsPerSecond: number;
  /** PaymentIntents in the account when the run ended. */
  paymentIntentsInAccount: number;
  /** The reconciler's Stripe requests (searches and listing pages). */
  stripeRequests: number;
  budget: { requestsPerSecond: number; parallelism: number };
  seconds: number;
  summary: ReconcileSummary;
}

const CHARGED_SHARE = 0.5;
/** A young order costs a search and LISTING_PAGE_CAP listing pages; a few show the busy account's case. */
const YOUNG_SHARE = 0.05;
/** Old enough that search's "none" is trusted (an hour after the attempt). */
const OLD_ATTEMPT_MS = 2 * 60 * 60_000;
/** The reconciler looks from this far ahead, so the young orders, attempted as the traffic starts, are past its grace. */
const CLOCK_AHEAD_MS = 11 * 60_000;
const CONCURRENT_WRITES = 25;
const OTHER_NAMESPACE = 'another-deployment';

const orderOf = (orderId: string): ChargeRequest => ({ orderId, amount: 1_500, currency: 'eur', paymentMethod: 'pm_card_visa' });

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += size) await Promise.all(items.slice(start, start + size).map(each));
}

/** Another deployment's orders, `perSecond` of them, until stopped; answers how many it made, and over how long. */
function unrelatedTraffic(makePayment: (orderId: string) => Promise<unknown>, perSecond: number) {
  const started = Date.now();
  let made = 0;
  const inFlight = new Set<Promise<unknown>>();
  const TICK_MS = 100;
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond) - made;
    for (let i = 0; i < due; i += 1) {
      made += 1;
      const request = makePayment(`other-${randomUUID()}`).finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
  }, TICK_MS);
  return async () => {
    clearInterval(timer);
    await Promise.all(inFlight);
    return { made, seconds: (Date.now() - started) / 1000 };
  };
}

export async function benchReconcilerThroughput(options: ReconcilerBenchOptions = {}): Promise<ReconcilerBenchResult> {
  const { pendingRecords = 200, unrelatedPaymentIntentsPerSecond = 100, unrelatedPaymentIntentsBefore = 5_000, stripeRequestsPerSecond = 100 } = options;
  const parts = options.parts ?? (await startLocalParts());
  try {
    const tables = localTableNames(`rb${randomUUID().slice(0, 6)}-`);
    await createTables(parts.dynamoDb, tables);
    const stripe = createStripePayments(async () => parts.stripe);
    const ledger = createDynamoDbLedger(parts.dynamoDb, tables.ledgerTableName);
    const unrelatedPayment = (orderId: string) => stripe.createPayment(paymentIntentCreateFor(orderOf(orderId), OTHER_NAMESPACE));

    await inBatches(
      Array.from({ length: unrelatedPaymentIntentsBefore }, () => `before-${randomUUID()}`),
      CONCURRENT_WRITES * 2,
      unrelatedPayment,
    );
    const stopTraffic = unrelatedTraffic(unrelatedPayment, unrelatedPaymentIntentsPerSecond);

    // The young orders are attempted now, as the unrelated traffic fills their minutes; the others two hours ago.
    const orderIds = Array.from({ length: pendingRecords }, (_, index) => `bench-${index}-${randomUUID().slice(0, 8)}`);
    const kindOf = (index: number) => (index < pendingRecords * CHARGED_SHARE ? 'charged' : index < pendingRecords * (1 - YOUNG_SHARE) ? 'none' : 'young');
    await inBatches([...orderIds.entries()], CONCURRENT_WRITES, async ([index, orderId]) => {
      const attemptAt = new Date(Date.now() - (kindOf(index) === 'young' ? 0 : OLD_ATTEMPT_MS)).toISOString();
      await ledger.createPendingOrGet(pendingRecordOf(orderOf(orderId), { channel: 'api', namespace: TEST_NAMESPACE }, attemptAt));
      if (kindOf(index) === 'charged') await stripe.createPayment(paymentIntentCreateFor(orderOf(orderId), TEST_NAMESPACE));
    });
    // Enough unrelated PaymentIntents in the minute before and after the young orders' attempts that listing them takes more than the cap.
    const missing = Math.max(0, LISTING_PAGE_CAP * 100 + 1 - unrelatedPaymentIntentsBefore);
    await new Promise((resolve) => setTimeout(resolve, (missing / unrelatedPaymentIntentsPerSecond) * 1000));

    const budget = stripeBudgetOf(stripeRequestsPerSecond).reconciler;
    const reconcile = createReconcilePending({
      ledger: createPendingLedger(parts.dynamoDb, tables.ledgerTableName),
      payments: stripe,
      graceSeconds: 600,
      budget,
      now: () => new Date(Date.now() + CLOCK_AHEAD_MS),
    });
    const readRequests = () => {
      const { requestsByEndpoint } = parts.stripeEmulator.stats();
      return (requestsByEndpoint['GET /v1/payment_intents/search'] ?? 0) + (requestsByEndpoint['GET /v1/payment_intents'] ?? 0);
    };
    const requestsBefore = readRequests();
    const started = Date.now();
    const summary = await reconcile();
    const seconds = (Date.now() - started) / 1000;
    const stripeRequests = readRequests() - requestsBefore;
    const traffic = await stopTraffic();
    return {
      pendingRecords,
      settledPerMinute: Math.round(((summary.settled + summary.expired) / seconds) * 60),
      unrelatedPaymentIntentsPerSecond: Math.round(traffic.made / traffic.seconds),
      paymentIntentsInAccount: parts.stripeEmulator.stats().paymentIntentsCreated,
      stripeRequests,
      budget,
      seconds: Math.round(seconds * 10) / 10,
      summary,
    };
  } finally {
    if (options.parts === undefined) await parts.stop();
  }
}

/** The Markdown section of docs/benchmark.md. */
export function reconcilerReport(result: ReconcilerBenchResult): string[] {
  const { summary } = result;
  return [
    `## The reconciler in a busy Stripe account`,
    '',
    `${result.pendingRecords} pending records (some with a PaymentIntent, some API orders without one), settled while another deployment makes ${result.unrelatedPaymentIntentsPerSecond.toFixed(0)} PaymentIntents/s in the same account (${result.paymentIntentsInAccount} in all at the end). The reconciler's share: ${result.budget.requestsPerSecond} Stripe requests/s, ${result.budget.parallelism} records at once.`,
    '',
    '| settled or expired per minute | settled | expired | waiting for search (put off) | failed | Stripe requests | seconds |',
    '|---|---|---|---|---|---|---|',
    `| ${result.settledPerMinute.toFixed(0)} | ${summary.settled} | ${summary.expired} | ${summary.waiting} | ${summary.failed} | ${result.stripeRequests} | ${result.seconds.toFixed(1)} |`,
    '',
  ];
}

if (require.main === module) {
  benchReconcilerThroughput().then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
