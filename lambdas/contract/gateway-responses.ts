/**
 * What API Gateway answers itself, before or instead of an integration, defined once: the stack
 * deploys these gateway responses and `npm start` renders the same templates for the answers it
 * gives in API Gateway's place. They keep the contract's error shape ({ error: { code, message } }).
 */
export interface GatewayResponse {
  /** API Gateway's response type (CDK's ResponseType). */
  type: 'BAD_REQUEST_BODY' | 'REQUEST_TOO_LARGE' | 'DEFAULT_4XX' | 'DEFAULT_5XX';
  /** The construct id in the stack. */
  id: string;
  /** Set for a single type; the defaults keep each type's own status (415, 403, 429, 504, …). */
  statusCode?: number;
  /**
   * Gateway responses only substitute variables (no escaping), so only the pre-quoted
   * `$context.error.messageString` may go in; the schema's detailed complaint cannot be embedded.
   */
  template: string;
}

const errorTemplate = (code: string) => `{"error":{"code":"${code}","message":$context.error.messageString}}`;

export const gatewayResponses: readonly GatewayResponse[] = [
  { id: 'InvalidBody', type: 'BAD_REQUEST_BODY', statusCode: 400, template: errorTemplate('invalid_request') },
  { id: 'TooLarge', type: 'REQUEST_TOO_LARGE', statusCode: 413, template: errorTemplate('payload_too_large') },
  { id: 'Other4xx', type: 'DEFAULT_4XX', template: errorTemplate('request_refused') },
  { id: 'Other5xx', type: 'DEFAULT_5XX', template: errorTemplate('gateway_error') },
];
