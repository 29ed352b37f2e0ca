import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { type AuditVerdict, differencesIn, type SliceReport, verdictOf } from '../core/audit';
import { countOutcome, publishCounts, serviceMetrics } from './outcome-metrics';

/** What the verdict step gets: the window and each slice's report. */
export interface VerdictRequest {
  since: string;
  until: string;
  reports: SliceReport[];
}

/**
 * The run's one verdict: emits the number of differences as a metric, which an alarm watches above
 * 0. The report names orders, PaymentIntents and the fields that differ; nothing else.
 */
export function createAuditVerdictHandler(metrics: Metrics = serviceMetrics(), logger = new Logger({ serviceName: SERVICE_NAME })) {
  return async ({ since, until, reports }: VerdictRequest, context?: Context): Promise<AuditVerdict> => {
    if (context) logger.addContext(context);
    const verdict = verdictOf(since, until, reports);
    countOutcome(metrics, METRIC_NAMES.auditDiscrepancies, differencesIn(verdict));
    publishCounts(metrics);
    const { discrepancies, ...totals } = verdict;
    if (differencesIn(verdict) > 0) logger.error('Stripe and the ledger differ', { ...totals, discrepancies });
    else logger.info('Stripe and the ledger agree', totals);
    return verdict;
  };
}
