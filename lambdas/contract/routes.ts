import { chargeRequestSchema } from './payment-request';
import { refundRequestSchema } from './refund-request';

/**
 * The HTTP routes, defined once: the CDK stack builds API Gateway resources from them and the
 * local runtime routes requests with them.
 */
export type FunctionName = 'chargePayment' | 'refundPayment' | 'getPayment' | 'stripeWebhook';

/** The request bodies API Gateway checks before anything runs, by model name (the Lambdas check them with the same objects). */
export const requestModels = { ChargeRequest: chargeRequestSchema, RefundRequest: refundRequestSchema } as const;
export type RequestModelName = keyof typeof requestModels;

interface RouteBase {
  method: 'GET' | 'POST';
  /** API Gateway resource path; `{name}` segments are path parameters. */
  path: string;
  /** Requires the `x-api-key` header (API Gateway usage plan). */
  apiKeyRequired: boolean;
  /** The model the body is checked against before anything runs, if any. */
  requestModel?: RequestModelName;
}

/** A Lambda proxy integration. */
export interface LambdaRoute extends RouteBase {
  kind: 'lambda';
  function: FunctionName;
}

/** An API Gateway → SQS service integration: the validated body becomes the message, answered 202. */
export interface QueueRoute extends RouteBase {
  kind: 'queue';
}

export type Route = LambdaRoute | QueueRoute;

export const routes: readonly Route[] = [
  { kind: 'lambda', method: 'POST', path: '/payments', function: 'chargePayment', apiKeyRequired: true, requestModel: 'ChargeRequest' },
  { kind: 'queue', method: 'POST', path: '/payments/async', apiKeyRequired: true, requestModel: 'ChargeRequest' },
  { kind: 'lambda', method: 'POST', path: '/payments/{orderId}/refunds', function: 'refundPayment', apiKeyRequired: true, requestModel: 'RefundRequest' },
  { kind: 'lambda', method: 'GET', path: '/payments/{orderId}', function: 'getPayment', apiKeyRequired: true },
  // Stripe signs its webhooks instead of sending an API key; the body must reach the Lambda byte for byte.
  { kind: 'lambda', method: 'POST', path: '/webhooks/stripe', function: 'stripeWebhook', apiKeyRequired: false },
];

/** The deployed stage: the API's URL ends in it. */
export const API_STAGE_NAME = 'v1';

/** What `POST /payments/async` answers once the message is on the queue. */
export const QUEUED_STATUS = 'queued';
