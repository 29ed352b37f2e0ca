import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from './settings';

/**
 * The charge queue and its dead-letter queue, defined once for the CDK stack and the local runtime.
 */
export const chargeQueue = {
  logicalName: 'ChargeQueue',
  deadLetterLogicalName: 'ChargeDeadLetterQueue',
  /** Receives before SQS moves a message to the dead-letter queue. */
  maxReceiveCount: 5,
  /** The worker has the charge function's Stripe-derived timeout. */
  workerTimeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
  /** AWS's advice: at least six times the function timeout, so a batch is never redelivered while running. */
  visibilityTimeoutSeconds: 6 * CHARGE_FUNCTION_TIMEOUT_SECONDS,
  retentionDays: 4,
  deadLetterRetentionDays: 14,
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
} as const;

/** Message attributes the worker puts on a message it dead-letters itself (a permanent failure). */
export const DEAD_LETTER_ATTRIBUTES = {
  code: 'failureCode',
  reason: 'failureReason',
  originalMessageId: 'originalMessageId',
  /** How many times the charge queue had delivered the message when the worker gave up on it. */
  receiveCount: 'receiveCount',
} as const;
