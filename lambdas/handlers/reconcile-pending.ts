import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { stripeFromSecret } from '../adapters/charge-service';
import { createPendingLedger } from '../adapters/dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv } from '../adapters/environment';
import { createStripePayments } from '../adapters/stripe-payments';
import { withTracing } from '../adapters/tracing';
import { ENV, METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { RECONCILE_STOP_MARGIN_MS } from '../contract/settings';
import { createReconcilePending, type ReconcilePending, type ReconcileSummary } from '../core/reconcile-pending';
import { countOutcome, publishCounts, serviceMetrics } from './outcome-metrics';

/** Run on a schedule (or by `npm run reconcile`); the answer is the run's summary. */
export type ReconcileHandler = (event: unknown, context: Context) => Promise<ReconcileSummary>;

/**
 * Settles the ledger's stale pending records from Stripe's side. A run that could not settle
 * every record fails (after settling the others), so the function's error alarm tells a person
 * the reconciler cannot do its job; the next scheduled run tries again.
 */
export function createReconcileHandler(
  reconcile: ReconcilePending,
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): ReconcileHandler {
  return async (_event, context) => {
    logger.addContext(context);
    const summary = await reconcile({ outOfTime: () => context.getRemainingTimeInMillis() < RECONCILE_STOP_MARGIN_MS });
    countOutcome(metrics, METRIC_NAMES.reconcilerSettled, summary.settled);
    countOutcome(metrics, METRIC_NAMES.reconcilerExpired, summary.expired);
    publishCounts(metrics);
    if (summary.failed > 0) {
      logger.error('pending orders could not be settled; the next run tries again', { ...summary });
      throw new Error(`${summary.failed} pending order(s) could not be settled`);
    }
    logger.info('pending orders reconciled', { ...summary });
    return summary;
  };
}

let deployedHandler: ReconcileHandler | undefined;

export const handler: ReconcileHandler = withTracing((event: unknown, context: Context) => {
  deployedHandler ??= (() => {
    return createReconcileHandler(
      createReconcilePending({
        ledger: createPendingLedger(lambdaDynamoDbClient(), requiredEnv(ENV.ledgerTableName)),
        payments: createStripePayments(stripeFromSecret(requiredEnv(ENV.stripeSecretId))),
        graceSeconds: Number(requiredEnv(ENV.pendingGraceSeconds)),
      }),
    );
  })();
  return deployedHandler(event, context);
});
