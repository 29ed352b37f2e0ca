import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { IdempotentRefund } from '../adapters/idempotent-use-cases';
import { METRIC_NAMES, type MetricName, SERVICE_NAME } from '../contract/environment';
import { HTTP_HEADERS } from '../contract/http-headers';
import { ORDER_ID_PATTERN } from '../contract/payment-request';
import { parseRefundRequest } from '../core/validate-request';
import { type ApiHandler, errorResponse, failureResponse, invalidRequest, loggedFailure, rawBodyOf, refundResponse, tooLarge } from './http-responses';
import { countingAnswers, responseOutcome, serviceMetrics } from './outcome-metrics';

const orderIdPattern = new RegExp(ORDER_ID_PATTERN);

/** POST /payments/{orderId}/refunds: parse, refund idempotently, map the outcome to the HTTP contract; count the outcome. */
export function createRefundPaymentHandler(
  refund: IdempotentRefund,
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): ApiHandler {
  const answer: ApiHandler = async (event, context) => {
    logger.addContext(context);
    const orderId = event.pathParameters?.orderId ?? '';
    if (!orderIdPattern.test(orderId)) return invalidRequest([{ field: 'orderId', message: `must match ${ORDER_ID_PATTERN}` }]);
    const rawBody = rawBodyOf(event);
    const oversized = tooLarge(rawBody);
    if (oversized !== undefined) return oversized;
    const request = parseRefundRequest(rawBody);
    if (!request.ok) return invalidRequest(request.errors);

    const { refundId } = request.value;
    logger.appendKeys({ orderId, refundId });
    try {
      const result = await refund({ ...request.value, orderId }, context);
      logger.info('refund finished', { status: result.status, replayed: result.replayed, stripeRefundId: result.stripeRefundId });
      return refundResponse(result);
    } catch (error) {
      return loggedFailure(logger, 'refund failed', error, refundFailureResponse(error));
    } finally {
      logger.removeKeys(['orderId', 'refundId']);
    }
  };
  return countingAnswers(answer, metrics, refundOutcome);
}

/** The refund's own wording of a reused key; every other failure is answered as for a charge. */
function refundFailureResponse(error: unknown): APIGatewayProxyResult {
  if (error instanceof Error && error.name === 'IdempotencyValidationError') {
    return errorResponse(422, 'idempotency_key_reused', 'this refundId was already used with a different amount or reason');
  }
  return failureResponse(error);
}

/** What an answer of the refund route counts as: Stripe's refund status, a replay, a refusal, or a charge's failure metric. */
export function refundOutcome(response: APIGatewayProxyResult): MetricName {
  const headers = (response.headers ?? {}) as Record<string, string>;
  if (headers[HTTP_HEADERS.idempotentReplayed] === 'true') return METRIC_NAMES.refundReplayed;
  if (response.statusCode === 201) {
    const { status } = JSON.parse(response.body) as { status: string };
    if (status === 'succeeded') return METRIC_NAMES.refundSucceeded;
    return status === 'failed' || status === 'canceled' ? METRIC_NAMES.refundFailed : METRIC_NAMES.refundPending;
  }
  const code = response.statusCode === 200 ? undefined : (JSON.parse(response.body) as { error?: { code?: string } }).error?.code;
  if (code === 'not_found' || code === 'order_not_refundable' || code === 'refund_exceeds_payment') return METRIC_NAMES.refundRefused;
  return responseOutcome(response);
}
