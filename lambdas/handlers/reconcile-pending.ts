import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { RECONCILE_REFUNDS_MIN_MS, RECONCILE_STOP_MARGIN_MS } from '../contract/settings';
import type { ReconcilePending, ReconcileSummary } from '../core/reconcile-pending';
import type { ReconcileRefunds, ReconcileRefundsSummary } from '../core/reconcile-refunds';
import { countOutcome, publishCounts, serviceMetrics } from './outcome-metrics';

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
