import { QUEUED_STATUS } from './routes';

/**
 * The API Gateway → SQS integration of `POST /payments/async`, defined once: the stack deploys
 * these mapping templates, and `npm start` renders the very same ones (with velocityjs) and sends
 * the result to SQS as the form-encoded SendMessage call API Gateway makes.
 */

/** The request to SQS's query protocol; `Accept` asks SQS to answer in JSON, which the response template reads. */
export const queueRequest = {
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
  // The validated body, byte for byte, is the message; the integration's path names the queue.
  template: 'Action=SendMessage&MessageBody=$util.urlEncode($input.body)',
} as const;

/** What `POST /payments/async` answers once SQS has the message. */
export interface QueuedAnswer {
  /** SQS's id of the message. */
  messageId: string;
  /** API Gateway's id of the request (its access logs carry it). */
  requestId: string;
  status: typeof QUEUED_STATUS;
}

export interface QueueIntegrationResponse {
  statusCode: 202 | 400 | 503;
  /**
   * Matched against the whole status code of SQS's answer; the response without one answers
   * whatever no pattern matches (SQS's 200). A 4xx other than 403 and 429 is SQS refusing this
   * message, so a retry cannot help (400); a 403 (our own permission, e.g. IAM still propagating
   * right after a deploy), a 429 (throttled) or a 5xx is worth retrying (503).
   */
  selectionPattern?: string;
  template: string;
}

export const QUEUE_REFUSED_PATTERN = '4(0[0-24-9]|1\\d|2[0-8]|[3-9]\\d)';
export const QUEUE_UNAVAILABLE_PATTERN = '403|429|5\\d{2}';

/**
 * The 202 names SQS's MessageId and API Gateway's request id, both documented for response
 * templates. It does not repeat the orderId: only request templates may read
 * `$context.requestOverride`, and the client sent the orderId itself.
 */
export const queueResponses: readonly QueueIntegrationResponse[] = [
  {
    statusCode: 202,
    template: `{"messageId":"$input.path('$.SendMessageResponse.SendMessageResult.MessageId')","requestId":"$context.requestId","status":"${QUEUED_STATUS}"}`,
  },
  {
    statusCode: 400,
    selectionPattern: QUEUE_REFUSED_PATTERN,
    template: '{"error":{"code":"invalid_request","message":"the queue refused this order"}}',
  },
  {
    statusCode: 503,
    selectionPattern: QUEUE_UNAVAILABLE_PATTERN,
    // After a 5xx SQS may have stored the message all the same: the answer says only what is sure.
    template:
      '{"error":{"code":"queue_unavailable","message":"the queue did not confirm the order; send the same request again (an orderId is charged at most once)"}}',
  },
];

/** The integration response API Gateway picks for SQS's status code: the first whose pattern matches it whole, else the default. */
export function selectQueueResponse(sqsStatusCode: number): QueueIntegrationResponse {
  const matching = queueResponses.find(
    ({ selectionPattern }) => selectionPattern !== undefined && new RegExp(`^(?:${selectionPattern})$`).test(String(sqsStatusCode)),
  );
  return matching ?? (queueResponses.find(({ selectionPattern }) => selectionPattern === undefined) as QueueIntegrationResponse);
}
