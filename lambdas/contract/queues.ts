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
  /** As long as SQS allows, so a stopped worker loses nothing for two weeks. */
  retentionDays: 14,
  deadLetterRetentionDays: 14,
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
  /** Concurrent worker invocations at most (the event source mapping's maximum concurrency). */
  maxConcurrency: 5,
  /** A message older than this on the charge queue means the worker is not keeping up (or is off). */
  oldestMessageAlarmSeconds: 15 * 60,
} as const;

/** Message attributes the worker puts on a message it dead-letters itself (a permanent failure). */
export const DEAD_LETTER_ATTRIBUTES = {
  code: 'failureCode',
  reason: 'failureReason',
  originalMessageId: 'originalMessageId',
  /** How many times the charge queue had delivered the message when the worker gave up on it. */
  receiveCount: 'receiveCount',
} as const;
