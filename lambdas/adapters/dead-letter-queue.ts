import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES } from '../contract/queues';

export interface PermanentFailure {
  /** Short machine-readable reason, e.g. `invalid_request`. */
  code: string;
  /** What an operator reads in `npm run dlq:inspect`. */
  reason: string;
}

/** The message as the worker received it. */
export interface ReceivedMessage {
  body: string;
  messageId: string;
  receiveCount: string;
}

/** Puts a message that can never succeed into the dead-letter queue at once, with why. */
export type DeadLetter = (message: ReceivedMessage, failure: PermanentFailure) => Promise<void>;

export function createDeadLetter(sqs: SQSClient, deadLetterQueueUrl: string): DeadLetter {
  return async ({ body, messageId, receiveCount }, failure) => {
    const text = (value: string) => ({ DataType: 'String', StringValue: value });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MessageBody: body,
        MessageAttributes: {
          [DEAD_LETTER_ATTRIBUTES.code]: text(failure.code),
          [DEAD_LETTER_ATTRIBUTES.reason]: text(failure.reason.slice(0, 1000)),
          [DEAD_LETTER_ATTRIBUTES.originalMessageId]: text(messageId),
          [DEAD_LETTER_ATTRIBUTES.receiveCount]: text(receiveCount),
        },
      }),
    );
  };
}
