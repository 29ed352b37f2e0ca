import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from './settings';

/**
 * How the worker spaces the retries of a transient failure (Stripe 5xx or timeout, or a rate limit past its ride-out; DynamoDB
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
  return equalJitterSeconds(retryCeilingSeconds(receiveCount, schedule), random);
}

/** Whole seconds between half the ceiling (rounded up) and all of it, at random. */
function equalJitterSeconds(ceiling: number, random: () => number): number {
  const floor = Math.ceil(ceiling / 2);
  return floor + Math.round(random() * (ceiling - floor));
}

/** SQS delays a message it is sent by at most 15 minutes. */
export const SQS_MAX_DELAY_SECONDS = 15 * 60;

/**
 * How the worker waits out Stripe's rate limit without spending receives: it sends the message
 * again with a delay, about as long again as the order has been rate limited so far (so the wait
 * doubles), from `baseDelaySeconds` up to `maxDelaySeconds`, jittered like the retries.
 */
export interface RateLimitSchedule {
  /** The ceiling of the first delay: Stripe counts its limits per second, so a few seconds let the window pass. */
  baseDelaySeconds: number;
  /** No delay is longer (SQS allows 15 minutes). */
  maxDelaySeconds: number;
  /**
   * Rate limited longer than this, the order spends receives again, so an account that is always over
   * its budget still reaches the dead-letter queue and its alarm instead of looping for ever.
   */
  rideOutSeconds: number;
}

export const RATE_LIMIT_SCHEDULE: RateLimitSchedule = { baseDelaySeconds: 2, maxDelaySeconds: 5 * 60, rideOutSeconds: OUTAGE_RIDDEN_OUT_SECONDS };

/** Send the message again after `delaySeconds`, marked as rate limited since `firstRateLimitedAt`; or spend a receive. */
export type RateLimitedRetry = { sendAgain: true; delaySeconds: number; firstRateLimitedAt: number } | { sendAgain: false };

/**
 * What the worker does with a message whose charge Stripe rate limited: `firstRateLimitedAt` (epoch
 * ms) is what the message carries from an earlier time, undefined the first time.
 */
export function rateLimitedRetry(
  firstRateLimitedAt: number | undefined,
  now: number,
  random: () => number = Math.random,
  schedule: RateLimitSchedule = RATE_LIMIT_SCHEDULE,
): RateLimitedRetry {
  const since = firstRateLimitedAt ?? now;
  const limitedForSeconds = Math.max(0, (now - since) / 1000);
  if (limitedForSeconds >= schedule.rideOutSeconds) return { sendAgain: false };
  const ceiling = Math.min(schedule.maxDelaySeconds, Math.max(schedule.baseDelaySeconds, Math.ceil(limitedForSeconds)));
  return { sendAgain: true, delaySeconds: equalJitterSeconds(ceiling, random), firstRateLimitedAt: since };
}

/** A schedule SQS can honour, or an error naming the field that it cannot. */
export function checkedRateLimitSchedule(schedule: RateLimitSchedule): RateLimitSchedule {
  const { baseDelaySeconds, maxDelaySeconds, rideOutSeconds } = schedule;
  if (!(baseDelaySeconds >= 1)) throw new Error(`baseDelaySeconds must be at least 1, not ${baseDelaySeconds}`);
  if (!(maxDelaySeconds >= baseDelaySeconds && maxDelaySeconds <= SQS_MAX_DELAY_SECONDS)) {
    throw new Error(`maxDelaySeconds must be between baseDelaySeconds and ${SQS_MAX_DELAY_SECONDS} (SQS's longest delay), not ${maxDelaySeconds}`);
  }
  if (!(rideOutSeconds >= 0)) throw new Error(`rideOutSeconds must be a number of seconds, not ${rideOutSeconds}`);
  return schedule;
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
  /**
   * A dead-lettered message keeps its first enqueue time, and the dead-letter queue's retention
   * counts from it: the charge queue keeps messages half as long as the dead-letter queue, so every
   * dead-lettered order has at least `deadLetterTimeToActDays` there. The backlog alarm
   * (`oldestMessageAlarmSeconds`) fires long before an order could expire on the charge queue.
   */
  retentionDays: 7,
  /** As long as SQS allows. */
  deadLetterRetentionDays: 14,
  /** The least time an operator has to inspect and redrive a dead-lettered order before SQS deletes it. */
  deadLetterTimeToActDays: 7,
  /** The batch size and the worker's concurrency follow the Stripe budget (stripe-budget.ts). */
  maxBatchingWindowSeconds: 1,
  /** A message older than this on the charge queue means the worker is not keeping up (or is off). */
  oldestMessageAlarmSeconds: 15 * 60,
} as const;

/** The attribute the worker puts on a message it sends again because Stripe rate limited its charge. */
export const RATE_LIMITED_ATTRIBUTES = {
  /** When Stripe first rate limited the order (epoch milliseconds), carried from one sending to the next. */
  firstRateLimitedAt: 'firstRateLimitedAt',
} as const;

/** Message attributes the worker puts on a message it dead-letters itself (a permanent failure). */
export const DEAD_LETTER_ATTRIBUTES = {
  code: 'failureCode',
  reason: 'failureReason',
  originalMessageId: 'originalMessageId',
  /** How many times the charge queue had delivered the message when the worker gave up on it. */
  receiveCount: 'receiveCount',
} as const;
