import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from './settings';

/**
 * How the worker spaces the retries of a transient failure (Stripe 5xx, 429 or timeout; DynamoDB
 * throttled; the order in progress elsewhere): it sets the message's visibility to the next delay
 * before reporting it failed, so SQS hands it back then instead of after the full visibility timeout.
 */
export interface RetrySchedule {
  /** The ceiling of the first delay: the first retry comes within this many seconds. */
  baseDelaySeconds: number;
  /** No delay is longer (SQS allows 12 h); a recovered Stripe is noticed within this. */
  maxDelaySeconds: number;
}

export const RETRY_SCHEDULE: RetrySchedule = { baseDelaySeconds: 6, maxDelaySeconds: 15 * 60 };

/** A Stripe outage this long is ridden out before anything is dead-lettered. */
export const OUTAGE_RIDDEN_OUT_SECONDS = 60 * 60;

/** The longest wait after the n-th receive failed: doubling from the base, capped. */
export function retryCeilingSeconds(receiveCount: number, schedule: RetrySchedule = RETRY_SCHEDULE): number {
  return Math.min(schedule.maxDelaySeconds, schedule.baseDelaySeconds * 2 ** (Math.max(1, receiveCount) - 1));
}

/** The shortest wait after the n-th receive failed: equal jitter keeps every delay in the upper half of its ceiling. */
export function retryFloorSeconds(receiveCount: number, schedule: RetrySchedule = RETRY_SCHEDULE): number {
  return Math.ceil(retryCeilingSeconds(receiveCount, schedule) / 2);
}

/**
 * The visibility to set after the n-th receive failed: between the floor and the ceiling, at
 * random, so a burst of orders that failed together does not come back together.
 */
export function retryDelaySeconds(receiveCount: number, random: () => number = Math.random, schedule: RetrySchedule = RETRY_SCHEDULE): number {
  const floor = retryFloorSeconds(receiveCount, schedule);
  return floor + Math.round(random() * (retryCeilingSeconds(receiveCount, schedule) - floor));
}

/** Receives needed so that even the shortest delays between them add up to the outage to ride out. */
export function receivesToRideOut(outageSeconds: number, schedule: RetrySchedule = RETRY_SCHEDULE): number {
  let receives = 1;
  for (let waited = 0; waited < outageSeconds; receives += 1) waited += retryFloorSeconds(receives, schedule);
  return receives;
}

/**
 * The charge queue and its dead-letter queue, defined once for the CDK stack and the local runtime.
 */
export const chargeQueue = {
  logicalName: 'ChargeQueue',
  deadLetterLogicalName: 'ChargeDeadLetterQueue',
  /** Receives before SQS moves a message to the dead-letter queue: enough to ride out the outage. */
  maxReceiveCount: receivesToRideOut(OUTAGE_RIDDEN_OUT_SECONDS),
  /** The worker has the charge function's Stripe-derived timeout. */
  workerTimeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
  /**
   * AWS's advice: at least six times the function timeout, so a batch is never redelivered while
   * running. A failed record comes back sooner, after its own retry delay.
   */
  visibilityTimeoutSeconds: 6 * CHARGE_FUNCTION_TIMEOUT_SECONDS,
  /** As long as SQS allows, so a stopped worker loses nothing for two weeks. */
  retentionDays: 14,
  deadLetterRetentionDays: 14,
  /** The batch size and the worker's concurrency follow the Stripe budget (stripe-budget.ts). */
  maxBatchingWindowSeconds: 1,
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
