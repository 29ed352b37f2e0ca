/** Environment variable names shared by the CDK stack (which sets them) and the runtime (which reads them). */
export const ENV = {
  idempotencyTableName: 'IDEMPOTENCY_TABLE_NAME',
  ledgerTableName: 'LEDGER_TABLE_NAME',
  /** Name or ARN of the Secrets Manager secret holding the Stripe API key (never the key itself). */
  stripeSecretId: 'STRIPE_SECRET_ID',
  /** Name or ARN of the secret holding the webhook signing secret (`whsec_…`). */
  stripeWebhookSecretId: 'STRIPE_WEBHOOK_SECRET_ID',
  /** The queue the worker consumes: it delays a failed message's next delivery there. */
  chargeQueueUrl: 'CHARGE_QUEUE_URL',
  /** Where the queue worker puts messages that can never succeed, with the reason. */
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  /** The deployment namespace at Stripe (`-c namespace=…` in AWS, default the stack name; `npm start` reads it too). */
  namespace: 'PAYMENTS_NAMESPACE',
  /** How long a record may stay pending before the reconciler settles it (settings.ts; `npm start` reads it too). */
  pendingGraceSeconds: 'PENDING_GRACE_SECONDS',
  /** How often `npm start` runs the reconciler (in AWS a schedule does). */
  reconcileIntervalSeconds: 'RECONCILE_INTERVAL_SECONDS',
  /** How often `npm start` runs the Events API catch-up (in AWS a schedule does). */
  eventsCatchUpIntervalSeconds: 'EVENTS_CATCH_UP_INTERVAL_SECONDS',
  /** The Stripe budget the functions pace themselves by (stripe-budget.ts; `-c stripeRequestsPerSecond` in AWS, `npm start` reads it too). */
  stripeRequestsPerSecond: 'STRIPE_REQUESTS_PER_SECOND',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Set to false: an answer (a client secret) or an error (a Stripe error object) must never reach a trace. */
  tracerCaptureResponse: 'POWERTOOLS_TRACER_CAPTURE_RESPONSE',
  tracerCaptureError: 'POWERTOOLS_TRACER_CAPTURE_ERROR',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

export const SERVICE_NAME = 'payments';
/** The CloudWatch namespace of this service's own metrics (alarms read them there). */
export const METRICS_NAMESPACE = 'ExactlyOncePayments';
/**
 * The dimensions of the service's metrics: the service and the deployment (its namespace at
 * Stripe), so that two stacks in one account and region, a sandbox beside a retained stack, never
 * mix their metrics nor set off each other's alarms.
 */
export const metricDimensions = (deployment: string) => ({ service: SERVICE_NAME, deployment });
/**
 * The service's own metrics, one per outcome, each a count of 1 per occurrence (the metrics
 * table of docs/operations.md lists them). Dimensions: `service` and `deployment`, never an orderId; a dead
 * letter also by its failure code.
 */
export const METRIC_NAMES = {
  charged: 'Charged',
  requiresAction: 'RequiresAction',
  canceled: 'Canceled',
  declined: 'Declined',
  replayed: 'Replayed',
  invalidRequest: 'InvalidRequest',
  keyReused: 'KeyReused',
  inProgress: 'InProgress',
  providerUnavailable: 'ProviderUnavailable',
  /** Stripe rate limited a charge or refund: answered 429 by the API, sent again later by the worker. */
  providerRateLimited: 'ProviderRateLimited',
  storeUnavailable: 'StoreUnavailable',
  internalError: 'InternalError',
  queueRetry: 'QueueRetry',
  deadLettered: 'DeadLettered',
  webhookApplied: 'WebhookApplied',
  webhookDuplicate: 'WebhookDuplicate',
  webhookStale: 'WebhookStale',
  webhookConflict: 'WebhookConflict',
  webhookUnknownOrder: 'WebhookUnknownOrder',
  webhookIgnored: 'WebhookIgnored',
  webhookRejected: 'WebhookRejected',
  reconcilerSettled: 'ReconcilerSettled',
  reconcilerExpired: 'ReconcilerExpired',
  reconcilerRefundsSettled: 'ReconcilerRefundsSettled',
  reconcilerRefundsReleased: 'ReconcilerRefundsReleased',
  auditDiscrepancies: 'AuditDiscrepancies',
  /** A refund answered by Stripe, by its status: succeeded; pending or requires_action; failed or canceled. */
  refundSucceeded: 'RefundSucceeded',
  refundPending: 'RefundPending',
  refundFailed: 'RefundFailed',
  refundReplayed: 'RefundReplayed',
  /** A refund refused before Stripe was asked: no such order, nothing charged, or more than is left. */
  refundRefused: 'RefundRefused',
  /** A dispute opened on a payment (from a webhook or the catch-up): the money is held, alarmed. */
  disputeOpened: 'DisputeOpened',
  /** An event the Events API catch-up applied because no webhook had: a webhook was missed. */
  eventsCaughtUp: 'EventsCaughtUp',
  /** Milliseconds each PaymentIntent creation took at Stripe (retries included). */
  stripeLatency: 'StripeLatency',
} as const;
export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];
