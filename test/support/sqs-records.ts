import type { SQSRecord } from 'aws-lambda';

/** An SQS record as the Lambda event source mapping hands it to the worker. */
export function sqsRecord(messageId: string, body: unknown, receiveCount = '1'): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: receiveCount, SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:ChargeQueue',
    awsRegion: 'us-east-1',
  };
}
