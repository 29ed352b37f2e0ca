import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { requiredEnv } from '../adapters/environment';
import { ENV, METRIC_NAMES, METRICS_NAMESPACE, type MetricName, metricDimensions } from '../contract/environment';
import { HTTP_HEADERS } from '../contract/http-headers';
import type { ChargeResult } from '../core/charge-order';
import type { LedgerObserver } from '../core/payment-events';
import type { ApiHandler } from './http-responses';

/**
 * The service's metrics, as EMF in the function's log (Powertools Metrics), for this deployment:
 * PAYMENTS_NAMESPACE, which every function that counts has. Without it nothing starts, rather than
 * publish metrics no alarm reads.
 */
export function serviceMetrics(deployment = requiredEnv(ENV.namespace)): Metrics {
  const { service, ...defaultDimensions } = metricDimensions(deployment);
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service, defaultDimensions });
}

/**
 * Publishes what the invocation counted. One that counted nothing of its own (a batch whose every
 * record was dead-lettered, counted as single metrics; a delivery that failed before its outcome)
 * publishes nothing, rather than Powertools' warning about an empty publish.
 */
export function publishCounts(metrics: Metrics): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

export function countOutcome(metrics: Metrics, name: MetricName, count = 1): void {
  metrics.addMetric(name, MetricUnit.Count, count);
}

/** What a finished charge counts as. */
export function resultOutcome(result: ChargeResult): MetricName {
  if (result.replayed) return METRIC_NAMES.replayed;
  const byStatus: Partial<Record<ChargeResult['status'], MetricName>> = {
    charged: METRIC_NAMES.charged,
    requires_action: METRIC_NAMES.requiresAction,
    canceled: METRIC_NAMES.canceled,
    declined: METRIC_NAMES.declined,
  };
  return byStatus[result.status] ?? METRIC_NAMES.charged;
}

/** What an answer of POST /payments counts as: its status, and for a 201 the payment's. */
export function responseOutcome(response: APIGatewayProxyResult): MetricName {
  const replayed = (response.headers as Record<string, string> | undefined)?.[HTTP_HEADERS.idempotentReplayed] === 'true';
  if (replayed) return METRIC_NAMES.replayed;
  switch (response.statusCode) {
    case 201: {
      const { status } = JSON.parse(response.body) as { status: string };
      return status === 'requires_action' ? METRIC_NAMES.requiresAction : status === 'canceled' ? METRIC_NAMES.canceled : METRIC_NAMES.charged;
    }
    case 402:
      return METRIC_NAMES.declined;
    case 400:
    case 413:
      return METRIC_NAMES.invalidRequest;
    case 409:
      return METRIC_NAMES.inProgress;
    case 422:
      return METRIC_NAMES.keyReused;
    // Only the handler answers 429 (the gateway's throttle never reaches it): Stripe rate limited the request.
    case 429:
      return METRIC_NAMES.providerRateLimited;
    case 502:
      return METRIC_NAMES.providerUnavailable;
    case 503:
      return METRIC_NAMES.storeUnavailable;
    default:
      return METRIC_NAMES.internalError;
  }
}

/** The ledger changes that need a person, counted into the metrics the alarms read, each change once. */
export function ledgerChangeMetrics(metrics: Metrics): LedgerObserver {
  return {
    refundsFailed: (count) => countOutcome(metrics, METRIC_NAMES.refundFailed, count),
    disputeOpened: () => countOutcome(metrics, METRIC_NAMES.disputeOpened),
  };
}

/** An API handler that counts each answer as one outcome, and the cold start, in one publish per invocation. */
export function countingAnswers(answer: ApiHandler, metrics: Metrics, outcomeOf: (response: APIGatewayProxyResult) => MetricName): ApiHandler {
  return async (event, context) => {
    metrics.captureColdStartMetric();
    const response = await answer(event, context);
    countOutcome(metrics, outcomeOf(response));
    publishCounts(metrics);
    return response;
  };
}
