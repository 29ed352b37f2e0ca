import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DeliveryOutcome, HandleStripeEvent, VerifyStripeEvent } from '../adapters/stripe-webhooks';
import { METRIC_NAMES, type MetricName, SERVICE_NAME } from '../contract/environment';
import { HTTP_HEADERS } from '../contract/http-headers';
import { errorSummary } from './error-summary';
import { type ApiHandler, errorResponse, failureResponse, rawBodyOf } from './http-responses';
import { countOutcome, publishCounts, serviceMetrics } from './outcome-metrics';

/**
 * POST /webhooks/stripe: verify the signature on the raw body, apply the event once, answer 200.
 * Stripe redelivers anything not answered 2xx, so "in progress" and store failures answer non-2xx.
 */
export function createStripeWebhookHandler(
  verify: VerifyStripeEvent,
  handleEvent: HandleStripeEvent,
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): ApiHandler {
  const answer = handleDelivery(verify, handleEvent, logger, metrics);
  return async (event, context) => {
    metrics.captureColdStartMetric();
    try {
      return await answer(event, context);
    } finally {
      publishCounts(metrics);
    }
  };
}

function handleDelivery(verify: VerifyStripeEvent, handleEvent: HandleStripeEvent, logger: Logger, metrics: Metrics): ApiHandler {
  return async (event, context) => {
    logger.addContext(context);
    const rawBody = rawBodyOf(event) ?? '';
    const signature = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === HTTP_HEADERS.stripeSignature.toLowerCase())?.[1];
    if (!signature) {
      countOutcome(metrics, METRIC_NAMES.webhookRejected);
      return errorResponse(400, 'invalid_signature', 'the Stripe-Signature header is missing');
    }

    let stripeEvent: Awaited<ReturnType<VerifyStripeEvent>>;
    try {
      stripeEvent = await verify(rawBody, signature);
    } catch (error) {
      if (error instanceof Error && error.name === 'InvalidSignatureError') {
        logger.warn('webhook signature rejected', { error: errorSummary(error) });
        countOutcome(metrics, METRIC_NAMES.webhookRejected);
        return errorResponse(400, 'invalid_signature', 'the Stripe-Signature header does not match this body');
      }
      logger.error('webhook verification failed', { error: errorSummary(error) });
      return failureResponse(error);
    }

    try {
      const outcome = await handleEvent(stripeEvent, context);
      const details = { eventId: stripeEvent.id, type: stripeEvent.type, outcome };
      // Both are answered 200 (redelivering cannot help) but need a person: see NEEDS_A_PERSON.
      if (NEEDS_A_PERSON.has(outcome)) logger.error('webhook refused: the ledger disagrees with this event', details);
      else logger.info('webhook handled', details);
      countOutcome(metrics, WEBHOOK_OUTCOME_METRICS[outcome]);
      const answer = outcome === 'unknown_order' ? 'ignored' : outcome;
      return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ received: true, outcome: answer }) };
    } catch (error) {
      const response = failureResponse(error);
      logger.warn('webhook not handled; Stripe will deliver it again', {
        eventId: stripeEvent.id,
        statusCode: response.statusCode,
        error: errorSummary(error),
      });
      return response;
    }
  };
}

/**
 * A fact about another PaymentIntent, amount or currency than the order's (`conflict`), or about a
 * payment of ours for an order the ledger never recorded (`unknown_order`, answered `ignored`):
 * the ledger writes `pending` before every Stripe call, so either means something is wrong.
 */
const NEEDS_A_PERSON = new Set<DeliveryOutcome>(['conflict', 'unknown_order']);

const WEBHOOK_OUTCOME_METRICS: Record<DeliveryOutcome, MetricName> = {
  applied: METRIC_NAMES.webhookApplied,
  duplicate: METRIC_NAMES.webhookDuplicate,
  stale: METRIC_NAMES.webhookStale,
  conflict: METRIC_NAMES.webhookConflict,
  unknown_order: METRIC_NAMES.webhookUnknownOrder,
  ignored: METRIC_NAMES.webhookIgnored,
};
