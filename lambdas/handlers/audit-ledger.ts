import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { stripeFromSecret } from '../adapters/charge-service';
import { createLedgerReader, createLedgerWindowReader } from '../adapters/dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv } from '../adapters/environment';
import { createStripeAuditSource } from '../adapters/stripe-payments';
import { withTracing } from '../adapters/tracing';
import { auditPagesPerSecondPerSlice, listedPerSlice, MAX_AUDIT_SLICES } from '../contract/audit-workflow';
import { ENV, METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { assertNamespace } from '../contract/payment-metadata';
import { AUDIT_DEFAULT_WINDOW, PENDING_GRACE_SECONDS, RECONCILE_INTERVAL_MINUTES } from '../contract/settings';
import { stripeBudgetOf, stripeRequestsPerSecondFrom } from '../contract/stripe-budget';
import { type Audit, type AuditVerdict, createAudit, differencesIn, listedAtMost, type SliceReport, sliceStarts, verdictOf, windowStart } from '../core/audit';
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

/** The window cut into slices (their starts), and how many differences each slice lists. */
export interface AuditPlan {
  since: string;
  until: string;
  sliceSeconds: number;
  slices: string[];
  listAtMost: number;
}

/** One Map item: a slice from `since`, `sliceSeconds` long, ending at the window's `until` at the latest. */
export interface SliceRequest {
  since: string;
  until: string;
  sliceSeconds: number;
  listAtMost: number;
}

/** What the verdict step gets: the window and each slice's report. */
export interface VerdictRequest {
  since: string;
  until: string;
  reports: SliceReport[];
}

/** The workflow's first step: cuts the window into slices of `sliceSeconds` (whole seconds: auditSliceSeconds of the budget). */
export function createAuditPlanHandler(sliceSeconds: number, now: () => Date = () => new Date()) {
  return async (event: AuditRequest | undefined): Promise<AuditPlan> => {
    // Whole seconds, as Stripe's `created` is: a slice's edge then splits no second between two slices.
    const until = new Date(Math.floor(windowStart(event?.settledFor ?? '0m', now()).getTime() / 1000) * 1000);
    const since = windowStart(event?.since ?? AUDIT_DEFAULT_WINDOW, until);
    const slices = sliceStarts(since, until, sliceSeconds, MAX_AUDIT_SLICES);
    return { since: since.toISOString(), until: until.toISOString(), sliceSeconds, slices, listAtMost: listedPerSlice(slices.length) };
  };
}

/**
 * Compares one slice and logs every difference it finds; answers its totals and its first
 * differences, which is what fits in the workflow's payloads.
 */
export function createAuditSliceHandler(audit: Audit, logger = new Logger({ serviceName: SERVICE_NAME })) {
  return async (event: SliceRequest, context?: Context): Promise<SliceReport> => {
    if (context) logger.addContext(context);
    const since = new Date(event.since);
    const until = new Date(Math.min(since.getTime() + event.sliceSeconds * 1000, Date.parse(event.until)));
    const report = await audit(since, until);
    const { discrepancies, ...totals } = report;
    if (discrepancies.length > 0) logger.error('Stripe and the ledger differ in this slice', { ...totals, discrepancies });
    return listedAtMost(report, event.listAtMost);
  };
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

/** The budget the functions were deployed with (STRIPE_REQUESTS_PER_SECOND). */
export const deployedBudget = () => stripeBudgetOf(stripeRequestsPerSecondFrom(process.env[ENV.stripeRequestsPerSecond]));

let deployedHandler: ReturnType<typeof createAuditSliceHandler> | undefined;

/** The CompareSlice step. */
export const handler = withTracing((event: SliceRequest, context: Context) => {
  deployedHandler ??= (() => {
    const dynamoDb = lambdaDynamoDbClient();
    const ledgerTableName = requiredEnv(ENV.ledgerTableName);
    const stripe = stripeFromSecret(requiredEnv(ENV.stripeSecretId));
    return createAuditSliceHandler(
      createAudit({
        ...createStripeAuditSource(stripe, assertNamespace(requiredEnv(ENV.namespace)), auditPagesPerSecondPerSlice(deployedBudget())),
        recordsCreatedBetween: createLedgerWindowReader(dynamoDb, ledgerTableName),
        readRecord: createLedgerReader(dynamoDb, ledgerTableName),
        inFlightSeconds: PENDING_GRACE_SECONDS + RECONCILE_INTERVAL_MINUTES * 60,
      }),
    );
  })();
  return deployedHandler(event, context);
});
