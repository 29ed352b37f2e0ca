import { Logger } from '@aws-lambda-powertools/logger';
import type { IdempotentCharge } from '../adapters/idempotent-use-cases';
import { SERVICE_NAME } from '../contract/environment';
import { parseChargeRequest } from '../core/validate-request';
import { type ApiHandler, chargeResponse, failureResponse, invalidRequest, loggedFailure, rawBodyOf, tooLarge } from './http-responses';
import { countingAnswers, responseOutcome, serviceMetrics } from './outcome-metrics';

/** POST /payments: parse, charge idempotently, map the outcome to the HTTP contract; count the outcome. */
export function createChargePaymentHandler(
  charge: IdempotentCharge,
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): ApiHandler {
  const answer: ApiHandler = async (event, context) => {
    logger.addContext(context);
    const rawBody = rawBodyOf(event);
    const oversized = tooLarge(rawBody);
    if (oversized !== undefined) return oversized;
    const request = parseChargeRequest(rawBody);
    if (!request.ok) return invalidRequest(request.errors);

    const { orderId } = request.value;
    logger.appendKeys({ orderId });
    try {
      const result = await charge(request.value, context);
      logger.info('charge finished', { status: result.status, replayed: result.replayed, paymentId: result.paymentId });
      return chargeResponse(result);
    } catch (error) {
      return loggedFailure(logger, 'charge failed', error, failureResponse(error));
    } finally {
      logger.removeKeys(['orderId']);
    }
  };
  return countingAnswers(answer, metrics, responseOutcome);
}
