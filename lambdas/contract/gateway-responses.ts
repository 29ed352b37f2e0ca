import { GATEWAY_RETRY_AFTER_SECONDS } from './admission';
import { HTTP_HEADERS } from './http-headers';

/**
 * What API Gateway answers itself, before or instead of an integration, defined once: the stack
 * deploys these gateway responses and `npm start` renders the same templates for the answers it
 * gives in API Gateway's place. They keep the contract's error shape ({ error: { code, message } }).
 */
export interface GatewayResponse {
  /** API Gateway's response type (CDK's ResponseType). */
  type:
    | 'BAD_REQUEST_BODY'
    | 'REQUEST_TOO_LARGE'
    | 'THROTTLED'
    | 'QUOTA_EXCEEDED'
    | 'INTEGRATION_FAILURE'
    | 'API_CONFIGURATION_ERROR'
    | 'DEFAULT_4XX'
    | 'DEFAULT_5XX';
  /** The construct id in the stack. */
  id: string;
  /** Set for a single type; the defaults keep each type's own status (415, 403, 429, 504, …). */
  statusCode?: number;
  /** Headers of the answer, with their literal values. */
  headers?: Record<string, string>;
  /**
   * Gateway responses only substitute variables (no escaping), so only the pre-quoted
   * `$context.error.messageString` may go in; the schema's detailed complaint cannot be embedded.
   */
  template: string;
}

const errorTemplate = (code: string) => `{"error":{"code":"${code}","message":$context.error.messageString}}`;
const retryLater = { [HTTP_HEADERS.retryAfter]: String(GATEWAY_RETRY_AFTER_SECONDS) };

/**
 * A throttled request (the stage's method throttle, the usage plan's rate or quota) is a 429 to retry
 * after a pause. When Lambda refuses an invocation (the function's concurrency throttled, Lambda
 * unavailable, a permission still propagating), AWS documents a 500 from API Gateway, and a Lambda
 * 429 reaches the `INTEGRATION_FAILURE` type: that type and the 500s' `API_CONFIGURATION_ERROR`
 * both answer 503 to retry, never a bare 500. Every other 5xx of the gateway says when to retry too.
 */
export const gatewayResponses: readonly GatewayResponse[] = [
  { id: 'InvalidBody', type: 'BAD_REQUEST_BODY', statusCode: 400, template: errorTemplate('invalid_request') },
  { id: 'TooLarge', type: 'REQUEST_TOO_LARGE', statusCode: 413, template: errorTemplate('payload_too_large') },
  { id: 'Throttled', type: 'THROTTLED', statusCode: 429, headers: retryLater, template: errorTemplate('too_many_requests') },
  { id: 'QuotaExceeded', type: 'QUOTA_EXCEEDED', statusCode: 429, headers: retryLater, template: errorTemplate('too_many_requests') },
  { id: 'IntegrationFailure', type: 'INTEGRATION_FAILURE', statusCode: 503, headers: retryLater, template: errorTemplate('service_unavailable') },
  { id: 'ConfigurationError', type: 'API_CONFIGURATION_ERROR', statusCode: 503, headers: retryLater, template: errorTemplate('service_unavailable') },
  { id: 'Other4xx', type: 'DEFAULT_4XX', template: errorTemplate('request_refused') },
  { id: 'Other5xx', type: 'DEFAULT_5XX', headers: retryLater, template: errorTemplate('gateway_error') },
];
