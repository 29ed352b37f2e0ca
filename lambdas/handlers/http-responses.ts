import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { HTTP_HEADERS } from '../contract/http-headers';
import { MAX_REQUEST_BODY_BYTES } from '../contract/payment-request';
import { RATE_LIMITED_RETRY_AFTER_SECONDS, RETRY_AFTER_SECONDS } from '../contract/settings';
import type { ChargeResult } from '../core/charge-order';
import type { RefundResult } from '../core/refund-order';
import type { FieldError } from '../core/validate-request';
import { errorSummary } from './error-summary';

/** Every API Gateway proxy handler of this project. */
export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** The request body exactly as the client sent it (API Gateway base64-encodes some bodies). */
export function rawBodyOf(event: APIGatewayProxyEvent): string | null {
  return event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** Error codes of the HTTP contract (docs/http-api.md). */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_signature'
  | 'not_found'
  | 'payload_too_large'
  | 'card_declined'
  | 'idempotency_key_in_use'
  | 'idempotency_key_reused'
  | 'payment_provider_unavailable'
  | 'payment_provider_rate_limited'
  | 'store_unavailable'
  | 'queue_unavailable'
  | 'order_not_refundable'
  | 'refund_exceeds_payment'
  | 'internal_error';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

export function errorResponse(
  statusCode: number,
  code: ErrorCode,
  message: string,
  details?: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  const error = details === undefined ? { code, message } : { code, message, details };
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify({ error }) };
}

/** 413 for a body over the contract's limit (a real request is a few hundred bytes), before it is parsed. */
export function tooLarge(rawBody: string | null): APIGatewayProxyResult | undefined {
  if (!rawBody || Buffer.byteLength(rawBody, 'utf8') <= MAX_REQUEST_BODY_BYTES) return undefined;
  return errorResponse(413, 'payload_too_large', `the body must be at most ${MAX_REQUEST_BODY_BYTES} bytes`);
}

/** A failure's answer, logged as an error when it is the service's (5xx) and as a warning when it is the request's. */
export function loggedFailure(logger: Logger, what: string, error: unknown, response: APIGatewayProxyResult): APIGatewayProxyResult {
  const log = response.statusCode >= 500 ? logger.error.bind(logger) : logger.warn.bind(logger);
  log(what, { statusCode: response.statusCode, error: errorSummary(error) });
  return response;
}

export function invalidRequest(errors: FieldError[]): APIGatewayProxyResult {
  const summary = errors.map(({ field, message }) => `${field} ${message}`).join('; ');
  return errorResponse(400, 'invalid_request', summary, errors);
}

/** 201 for the call that charged, 200 + Idempotent-Replayed for every later one, 402 for a decline. */
export function chargeResponse(result: ChargeResult): APIGatewayProxyResult {
  const payment = {
    orderId: result.orderId,
    paymentId: result.paymentId,
    amount: result.amount,
    currency: result.currency,
    paymentStatus: result.paymentStatus,
  };
  const replayHeaders: Record<string, string> = result.replayed ? { [HTTP_HEADERS.idempotentReplayed]: 'true' } : {};
  if (result.status === 'declined') {
    return errorResponse(402, 'card_declined', 'the card was declined', { ...payment, declineCode: result.declineCode }, replayHeaders);
  }
  const status = result.replayed ? 'already_processed' : result.status;
  // The customer's browser needs the client secret to finish a payment that requires action.
  const clientSecret = result.clientSecret === null ? {} : { clientSecret: result.clientSecret };
  return {
    statusCode: result.replayed ? 200 : 201,
    headers: { ...JSON_HEADERS, ...replayHeaders },
    body: JSON.stringify({ ...payment, status, ...clientSecret }),
  };
}

/** 201 for the call that asked Stripe, 200 + Idempotent-Replayed for every later one; `status` is Stripe's refund status. */
export function refundResponse({ replayed, ...refund }: RefundResult): APIGatewayProxyResult {
  const { orderId, refundId, amount, currency, status, stripeRefundId } = refund;
  return {
    statusCode: replayed ? 200 : 201,
    headers: { ...JSON_HEADERS, ...(replayed && { [HTTP_HEADERS.idempotentReplayed]: 'true' }) },
    body: JSON.stringify({ orderId, refundId, amount, currency, status, stripeRefundId }),
  };
}

/**
 * Maps a failure to the contract. Errors are recognised by name, so this module depends on neither
 * Powertools nor the adapters; anything unknown becomes a bare 500 with no internals.
 */
export function failureResponse(error: unknown): APIGatewayProxyResult {
  const name = error instanceof Error ? error.name : '';
  switch (name) {
    case 'IdempotencyAlreadyInProgressError':
    case 'PaymentInProgressError':
      return errorResponse(409, 'idempotency_key_in_use', 'this order is being processed; retry later', undefined, {
        [HTTP_HEADERS.retryAfter]: String(RETRY_AFTER_SECONDS),
      });
    case 'IdempotencyValidationError':
    case 'OrderConflictError':
      return errorResponse(422, 'idempotency_key_reused', 'this orderId was already used with different payment details');
    case 'PaymentRejectedError': {
      const { field = 'body', code = 'invalid_request' } = error as { field?: string; code?: string };
      return invalidRequest([{ field, message: `was refused by the payment provider (${code})` }]);
    }
    // Never a 502: nothing failed, and the client is told when coming back is useful.
    case 'PaymentProviderRateLimitedError':
      return errorResponse(
        429,
        'payment_provider_rate_limited',
        'the payment provider is rate limiting requests; retrying with the same orderId after Retry-After seconds is safe',
        undefined,
        { [HTTP_HEADERS.retryAfter]: String(RATE_LIMITED_RETRY_AFTER_SECONDS) },
      );
    case 'PaymentProviderError':
      return errorResponse(502, 'payment_provider_unavailable', 'the payment provider could not complete the request; retrying with the same orderId is safe');
    case 'OrderNotFoundError':
      return errorResponse(404, 'not_found', (error as Error).message);
    case 'OrderNotRefundableError':
      return errorResponse(409, 'order_not_refundable', (error as Error).message);
    case 'RefundExceedsPaymentError': {
      const { refundable } = error as { refundable?: number };
      return errorResponse(422, 'refund_exceeds_payment', (error as Error).message, refundable === undefined ? undefined : { refundable });
    }
    case 'RefundConflictError':
      return errorResponse(422, 'idempotency_key_reused', 'this refundId was already used with a different amount or reason');
    case 'IdempotencyPersistenceLayerError':
    case 'StoreUnavailableError':
      return errorResponse(503, 'store_unavailable', 'the payment store is unavailable; retry is safe');
    default:
      return errorResponse(500, 'internal_error', 'internal error');
  }
}
