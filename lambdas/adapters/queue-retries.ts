import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  checkedRateLimitSchedule,
  RATE_LIMIT_SCHEDULE,
  RATE_LIMITED_ATTRIBUTES,
  type RateLimitSchedule,
  RETRY_SCHEDULE,
  type RetrySchedule,
  rateLimitedRetry,
  retryDelaySeconds,
} from '../contract/queues';

/** A received message, as far as delaying its next delivery needs it. */
export interface RetriableMessage {
  receiptHandle: string;
  /** How many times SQS has delivered it, this time included. */
  receiveCount: number;
}

/** Hides a failed message until its next retry is due; resolves to the delay in seconds. */
export type RetryLater = (message: RetriableMessage) => Promise<number>;

export function createRetryLater(sqs: SQSClient, queueUrl: string, schedule: RetrySchedule = RETRY_SCHEDULE): RetryLater {
  return async ({ receiptHandle, receiveCount }) => {
    const delay = retryDelaySeconds(receiveCount, Math.random, schedule);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: delay }));
    return delay;
  };
}

/** A received message whose charge Stripe rate limited. */
export interface RateLimitedMessage {
  body: string;
  /** Its `firstRateLimitedAt` attribute, when an earlier sending carried one. */
  firstRateLimitedAt?: string;
}

/**
 * Sends a rate-limited message's body to the queue again, delayed, so that its receives are not
 * spent; resolves to the delay in seconds, or to undefined once the order has been rate limited for
 * longer than the schedule rides out (then it should spend a receive, as any failure does).
 */
export type SendAgainLater = (message: RateLimitedMessage) => Promise<number | undefined>;

export function createSendAgainLater(sqs: SQSClient, queueUrl: string, schedule: RateLimitSchedule = RATE_LIMIT_SCHEDULE): SendAgainLater {
  checkedRateLimitSchedule(schedule);
  return async ({ body, firstRateLimitedAt }) => {
    const carried = Number(firstRateLimitedAt);
    const retry = rateLimitedRetry(firstRateLimitedAt !== undefined && Number.isFinite(carried) ? carried : undefined, Date.now(), Math.random, schedule);
    if (!retry.sendAgain) return undefined;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: body,
        DelaySeconds: retry.delaySeconds,
        MessageAttributes: { [RATE_LIMITED_ATTRIBUTES.firstRateLimitedAt]: { DataType: 'Number', StringValue: String(retry.firstRateLimitedAt) } },
      }),
    );
    return retry.delaySeconds;
  };
}
