import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { stripeFromSecret } from '../adapters/charge-service';
import { createLedgerReader, createLedgerWindowReader } from '../adapters/dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv } from '../adapters/environment';
import { createStripeAuditSource } from '../adapters/stripe-payments';
import { withTracing } from '../adapters/tracing';
import { ENV, METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { assertNamespace } from '../contract/payment-metadata';
import { AUDIT_DEFAULT_WINDOW, PENDING_GRACE_SECONDS, RECONCILE_INTERVAL_MINUTES } from '../contract/settings';
import { type Audit, type AuditReport, createAudit, windowStart } from '../core/audit';
import { countOutcome, publishCounts, serviceMetrics } from './outcome-metrics';

/**
 * What a run compares: the orders created from `since` ago until `settledFor` ago (`24h`, `30m`, …;
 * default the last day, until now). The daily schedule leaves out the last half hour, which the
 * reconciler may still be settling, and overlaps the day before by an hour (DAILY_AUDIT_WINDOW).
 */
export interface AuditRequest {
  since?: string;
  settledFor?: string;
}

/** Run daily (or by `npm run audit`); the answer is the report. */
export type AuditHandler = (event: AuditRequest | undefined, context: Context) => Promise<AuditReport>;

/**
 * Compares Stripe with the ledger and emits the number of differences as a metric, which an alarm
 * watches above 0. The report names orders, PaymentIntents and the fields that differ; nothing else.
 */
export function createAuditHandler(audit: Audit, metrics = serviceMetrics(), logger = new Logger({ serviceName: SERVICE_NAME })): AuditHandler {
  return async (event, context) => {
    logger.addContext(context);
    const until = windowStart(event?.settledFor ?? '0m');
    const report = await audit(windowStart(event?.since ?? AUDIT_DEFAULT_WINDOW, until), until);
    countOutcome(metrics, METRIC_NAMES.auditDiscrepancies, report.discrepancies.length);
    publishCounts(metrics);
    const { discrepancies, ...totals } = report;
    if (discrepancies.length > 0) logger.error('Stripe and the ledger differ', { ...totals, discrepancies });
    else logger.info('Stripe and the ledger agree', totals);
    return report;
  };
}

let deployedHandler: AuditHandler | undefined;

export const handler: AuditHandler = withTracing((event: Parameters<AuditHandler>[0], context: Context) => {
  deployedHandler ??= (() => {
    const dynamoDb = lambdaDynamoDbClient();
    const ledgerTableName = requiredEnv(ENV.ledgerTableName);
    return createAuditHandler(
      createAudit({
        ...createStripeAuditSource(stripeFromSecret(requiredEnv(ENV.stripeSecretId)), assertNamespace(requiredEnv(ENV.namespace))),
        recordsCreatedBetween: createLedgerWindowReader(dynamoDb, ledgerTableName),
        readRecord: createLedgerReader(dynamoDb, ledgerTableName),
        inFlightSeconds: PENDING_GRACE_SECONDS + RECONCILE_INTERVAL_MINUTES * 60,
      }),
    );
  })();
  return deployedHandler(event, context);
});
