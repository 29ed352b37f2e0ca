import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { chargeQueue } from '../lambdas/contract/queues';
import { stripeBudgetOf } from '../lambdas/contract/stripe-budget';
import type { QueueHandler } from '../lambdas/handlers/charge-worker';
import { errorSummary } from '../lambdas/handlers/error-summary';
import { lambdaContext } from './lambda-context';

export interface QueuePoller {
  stop(): Promise<void>;
}

/** A batch that outlived the worker's timeout, as Lambda ends a function that does. */
export class WorkerTimeoutError extends Error {
  override name = 'WorkerTimeoutError';
}

export interface QueuePollerOptions {
  /** Tests shorten it so a batch that hangs (a crash) fails within their time. */
  workerTimeoutSeconds?: number;
  /** Told of each batch that failed as a whole (its messages come back); by default it is printed. */
  onBatchFailure?: (error: unknown) => void;
  /** Messages per batch, as the event source mapping's batch size; default the sandbox budget's. */
  batchSize?: number;
}

/** What `npm start` prints when a batch failed as a whole. */
export function printBatchFailure(error: unknown): void {
  console.error('local queue poller: batch failed, its messages will be received again', errorSummary(error));
}

/**
 * Does locally what the Lambda event source mapping does in AWS: receive a batch, invoke the worker
 * handler, delete the records it did not report as failed, and leave the failed ones to come back
 * after the visibility timeout (and to the dead-letter queue after maxReceiveCount receives).
 */
export function startQueuePoller(
  sqs: SQSClient,
  queueUrl: string,
  handler: QueueHandler,
  {
    workerTimeoutSeconds = chargeQueue.workerTimeoutSeconds,
    onBatchFailure = printBatchFailure,
    batchSize = stripeBudgetOf().worker.batchSize,
  }: QueuePollerOptions = {},
): QueuePoller {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: chargeQueue.maxBatchingWindowSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        if (Messages.length === 0) continue;
        const event: SQSEvent = { Records: Messages.map((message) => toRecord(message, queueUrl)) };
        const timeoutMs = workerTimeoutSeconds * 1000;
        // Like Lambda: a batch that outlives the function's timeout failed as a whole; nothing is deleted.
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new WorkerTimeoutError('the worker timed out')), timeoutMs);
        });
        const { batchItemFailures } = await Promise.race([handler(event, lambdaContext(timeoutMs, 'chargeWorker')), timedOut]).finally(() =>
          clearTimeout(timer),
        );
        const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier));
        const done = Messages.filter((message) => !failed.has(message.MessageId as string));
        if (done.length > 0) {
          const { Failed = [] } = await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
            }),
          );
          // An undeleted message comes back and is answered from the key table: harmless, but worth seeing.
          if (Failed.length > 0) console.error('local queue poller: could not delete', Failed);
        }
      } catch (error) {
        if (!running) break;
        onBatchFailure(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

function toRecord(message: Message, queueUrl: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        { dataType: value.DataType ?? 'String', stringValue: value.StringValue, stringListValues: [], binaryListValues: [] },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop()}`,
    awsRegion: 'us-east-1',
  };
}
