import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { RETRY_SCHEDULE, type RetrySchedule, retryDelaySeconds } from '../contract/queues';

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
