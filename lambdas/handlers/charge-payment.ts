import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { chargeServiceFromEnvironment } from '../adapters/charge-service';
import type { IdempotentCharge } from '../adapters/idempotent-use-cases';
import { withTracing } from '../adapters/tracing';
import { SERVICE_NAME } from '../contract/environment';
import { MAX_REQUEST_BODY_BYTES } from '../contract/payment-request';
import { parseChargeRequest } from '../core/validate-request';
import { errorSummary } from './error-summary';
import { type ApiHandler, chargeResponse, errorResponse, failureResponse, invalidRequest, rawBodyOf } from './http-responses';
import { countOutcome, publishCounts, responseOutcome, serviceMetrics } from './outcome-metrics';

/** POST /payments: parse, charge idempotently, map the outcome to the HTTP contract; count the outcome. */
export function createChargePaymentHandler(
  charge: IdempotentCharge,
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): ApiHandler {
  const answer: ApiHandler = async (event, context) => {
    logger.addContext(context);
    const rawBody = rawBodyOf(event);
    if (rawBody && Buffer.byteLength(rawBody, 'utf8') > MAX_REQUEST_BODY_BYTES) {
      return errorResponse(413, 'payload_too_large', `the body must be at most ${MAX_REQUEST_BODY_BYTES} bytes`);
    }
    const request = parseChargeRequest(rawBody);
    if (!request.ok) return invalidRequest(request.errors);

    const { orderId } = request.value;
    logger.appendKeys({ orderId });
    try {
      const result = await charge(request.value, context);
      logger.info('charge finished', { status: result.status, replayed: result.replayed, paymentId: result.paymentId });
      return chargeResponse(result);
    } catch (error) {
      const response = failureResponse(error);
      const log = response.statusCode >= 500 ? logger.error.bind(logger) : logger.warn.bind(logger);
      log('charge failed', { statusCode: response.statusCode, error: errorSummary(error) });
      return response;
    } finally {
      logger.removeKeys(['orderId']);
    }
  };
  return async (event, context) => {
    metrics.captureColdStartMetric();
    const response = await answer(event, context);
    countOutcome(metrics, responseOutcome(response));
    publishCounts(metrics);
    return response;
  };
}

let deployedHandler: ApiHandler | undefined;

/** The Lambda entry point; dependencies are built on the first call so importing this module has no effects. */
export const handler: ApiHandler = withTracing((event: APIGatewayProxyEvent, context: Context) => {
  deployedHandler ??= (() => {
    const metrics = serviceMetrics();
    return createChargePaymentHandler(chargeServiceFromEnvironment('api', metrics), undefined, metrics);
  })();
  return deployedHandler(event, context);
});
