import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES } from '../lambdas/contract/queues';

export interface DeadLetterView {
  messageId: string;
  orderId: string | null;
  amount: number | null;
  currency: string | null;
  /** Set when the worker dead-lettered the message itself (a permanent failure). */
  failureCode: string | null;
  failureReason: string | null;
  /** Deliveries from the charge queue when the worker gave up at once; null when SQS moved it after maxReceiveCount receives. */
  receiveCount: number | null;
  sentAt: string;
}

const SCAN_VISIBILITY_SECONDS = 30;

/**
 * Reads every dead-lettered message without removing any: each is hidden while the scan runs
 * (so none is counted twice) and made visible again at the end.
 */
export async function inspectDeadLetters(sqs: SQSClient, deadLetterQueueUrl: string, max = 100): Promise<DeadLetterView[]> {
  const expected = Math.min(max, await countDeadLetters(sqs, deadLetterQueueUrl));
  const seen = new Map<string, Message>();
  // Short receives may come back empty while messages exist: stop at the count, or after two empty waits.
  for (let empty = 0; seen.size < expected && empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: SCAN_VISIBILITY_SECONDS,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const fresh = Messages.filter((message) => !seen.has(message.MessageId as string));
    for (const message of fresh) seen.set(message.MessageId as string, message);
    empty = fresh.length === 0 ? empty + 1 : 0;
  }
  const messages = [...seen.values()];
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: deadLetterQueueUrl,
        Entries: messages.slice(i, i + 10).map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
  return messages.map(view);
}

export async function countDeadLetters(sqs: SQSClient, deadLetterQueueUrl: string, { visibleOnly = false } = {}): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: deadLetterQueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const visible = Number(Attributes.ApproximateNumberOfMessages ?? 0);
  return visibleOnly ? visible : visible + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/**
 * Moves the messages dead-lettered so far back to the charge queue by receive, send, delete, for
 * SQS servers without StartMessageMoveTask (the local emulator). A message is deleted only after
 * its copy was sent, so none is lost; a crash in between sends it twice, which the idempotent
 * charge absorbs. Messages dead-lettered again while it runs (a permanent failure comes straight
 * back) are left for the next run, so it always ends.
 */
export async function redriveByCopy(sqs: SQSClient, deadLetterQueueUrl: string, queueUrl: string): Promise<number> {
  const startedAt = Date.now();
  const toMove = await countDeadLetters(sqs, deadLetterQueueUrl, { visibleOnly: true });
  let moved = 0;
  for (let empty = 0; moved < toMove && empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(10, toMove - moved),
        VisibilityTimeout: SCAN_VISIBILITY_SECONDS,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['SentTimestamp'],
        MessageAttributeNames: ['All'],
      }),
    );
    const earlier = Messages.filter((message) => Number(message.Attributes?.SentTimestamp ?? 0) <= startedAt);
    empty = earlier.length === 0 ? empty + 1 : 0;
    for (const message of earlier) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: message.Body, MessageAttributes: withoutFailure(message.MessageAttributes) }));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle }));
      moved += 1;
    }
  }
  return moved;
}

/** A redriven message starts afresh: the reason it failed last time belongs to the dead-letter queue. */
function withoutFailure(attributes: Record<string, MessageAttributeValue> = {}): Record<string, MessageAttributeValue> | undefined {
  const failureNames = new Set<string>(Object.values(DEAD_LETTER_ATTRIBUTES));
  const kept = Object.entries(attributes).filter(([name]) => !failureNames.has(name));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

function view(message: Message): DeadLetterView {
  const body = parseBody(message.Body);
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue ?? null;
  return {
    messageId: message.MessageId as string,
    orderId: typeof body.orderId === 'string' ? body.orderId : null,
    amount: typeof body.amount === 'number' ? body.amount : null,
    currency: typeof body.currency === 'string' ? body.currency : null,
    failureCode: attribute(DEAD_LETTER_ATTRIBUTES.code),
    failureReason: attribute(DEAD_LETTER_ATTRIBUTES.reason),
    receiveCount: attribute(DEAD_LETTER_ATTRIBUTES.receiveCount) === null ? null : Number(attribute(DEAD_LETTER_ATTRIBUTES.receiveCount)),
    sentAt: new Date(Number(message.Attributes?.SentTimestamp ?? 0)).toISOString(),
  };
}

function parseBody(body: string | undefined): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body ?? '');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
