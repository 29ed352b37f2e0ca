import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { stripeFromSecret } from '../adapters/charge-service';
import { createPendingLedger, createRefundsLedger } from '../adapters/dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv } from '../adapters/environment';
import { createStripePayments, createStripeRefunds } from '../adapters/stripe-payments';
import { withTracing } from '../adapters/tracing';
import { ENV, METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { RECONCILE_REFUNDS_MIN_MS, RECONCILE_STOP_MARGIN_MS } from '../contract/settings';
import { stripeBudgetOf, stripeRequestsPerSecondFrom } from '../contract/stripe-budget';
import { createReconcilePending, type ReconcilePending, type ReconcileSummary } from '../core/reconcile-pending';
import { createReconcileRefunds, type ReconcileRefunds, type ReconcileRefundsSummary } from '../core/reconcile-refunds';
import { countOutcome, ledgerChangeMetrics, publishCounts, serviceMetrics } from './outcome-metrics';

/** What one run did: the pending charges, and the refunds left open. */
export type ReconcileRunSummary = ReconcileSummary & { refunds: ReconcileRefundsSummary };

/** Run on a schedule (or by `npm run reconcile`); the answer is the run's summary. */
export type ReconcileHandler = (event: unknown, context: Context) => Promise<ReconcileRunSummary>;

/**
 * Settles the ledger's stale pending records and open refunds from Stripe's side. A run that could
 * not settle every one fails (after settling the others), so the function's error alarm tells a
 * person the reconciler cannot do its job; the next scheduled run tries again.
 */
export function createReconcileHandler(
  { pending, refunds }: { pending: ReconcilePending; refunds: ReconcileRefunds },
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): ReconcileHandler {
  return async (_event, context) => {
    logger.addContext(context);
    const leftBelow = (ms: number) => () => context.getRemainingTimeInMillis() < ms;
    // A pending backlog larger than a run would otherwise leave the open refunds no time, run after run.
    const pendingSummary = await pending({ outOfTime: leftBelow(RECONCILE_STOP_MARGIN_MS + RECONCILE_REFUNDS_MIN_MS) });
    const summary = { ...pendingSummary, refunds: await refunds({ outOfTime: leftBelow(RECONCILE_STOP_MARGIN_MS) }) };
    countOutcome(metrics, METRIC_NAMES.reconcilerSettled, summary.settled);
    countOutcome(metrics, METRIC_NAMES.reconcilerExpired, summary.expired);
    countOutcome(metrics, METRIC_NAMES.reconcilerRefundsSettled, summary.refunds.settled);
    countOutcome(metrics, METRIC_NAMES.reconcilerRefundsReleased, summary.refunds.released);
    publishCounts(metrics);
    const failed = summary.failed + summary.refunds.failed;
    if (failed > 0) {
      logger.error('pending orders or open refunds could not be settled; the next run tries again', { ...summary });
      throw new Error(`${failed} pending order(s) or open refund(s) could not be settled`);
    }
    logger.info('pending orders and open refunds reconciled', { ...summary });
    return summary;
  };
}

let deployedHandler: ReconcileHandler | undefined;

export const handler: ReconcileHandler = withTracing((event: unknown, context: Context) => {
  deployedHandler ??= (() => {
    const dynamoDb = lambdaDynamoDbClient();
    const ledgerTableName = requiredEnv(ENV.ledgerTableName);
    const stripe = stripeFromSecret(requiredEnv(ENV.stripeSecretId));
    const graceSeconds = Number(requiredEnv(ENV.pendingGraceSeconds));
    const budget = stripeBudgetOf(stripeRequestsPerSecondFrom(requiredEnv(ENV.stripeRequestsPerSecond))).reconciler;
    const metrics = serviceMetrics();
    const observer = ledgerChangeMetrics(metrics);
    return createReconcileHandler(
      {
        pending: createReconcilePending({
          ledger: createPendingLedger(dynamoDb, ledgerTableName),
          payments: createStripePayments(stripe),
          graceSeconds,
          budget,
        }),
        refunds: createReconcileRefunds({
          ledger: createRefundsLedger(dynamoDb, ledgerTableName),
          payments: createStripeRefunds(stripe),
          graceSeconds,
          budget,
          observer,
        }),
      },
      undefined,
      metrics,
    );
  })();
  return deployedHandler(event, context);
});
