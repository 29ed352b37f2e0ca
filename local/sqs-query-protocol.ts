import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** An HTTP request or answer between API Gateway and an AWS service, as its integration sees it. */
export interface ServiceRequest {
  headers: Readonly<Record<string, string>>;
  body: string;
}
export interface ServiceAnswer {
  statusCode: number;
  body: string;
}
/** Where API Gateway's integration sends its rendered request. */
export type QueueEndpoint = (request: ServiceRequest) => Promise<ServiceAnswer>;

/**
 * The queue's endpoint for SQS's query protocol, as API Gateway calls it: a form-encoded
 * `Action=SendMessage`, answered in JSON; it throws when SQS gave no answer. API Gateway sends once
 * and waits 29 s, so `sqs` should too (`integrationSqsClient`).
 * fauxqs speaks only SQS's JSON protocol, so this decodes the form as SQS does and sends the
 * message through the SDK; no library translates between the two, hence by hand, and only the one
 * action the integration uses.
 */
export function sqsQueryEndpoint(sqs: SQSClient, queueUrl: string): QueueEndpoint {
  return async ({ headers, body }) => {
    if (headers['Content-Type'] !== 'application/x-www-form-urlencoded') return queryError(400, 'InvalidParameterValue', 'expected a form-encoded body');
    const form = new URLSearchParams(body);
    if (form.get('Action') !== 'SendMessage') return queryError(400, 'InvalidAction', `unsupported action ${form.get('Action')}`);
    const messageBody = form.get('MessageBody');
    if (messageBody === null) return queryError(400, 'MissingParameter', 'MessageBody is required');
    try {
      const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: messageBody }));
      const result = { MessageId: sent.MessageId, MD5OfMessageBody: sent.MD5OfMessageBody };
      return {
        statusCode: 200,
        body: JSON.stringify({ SendMessageResponse: { SendMessageResult: result, ResponseMetadata: { RequestId: sent.$metadata.requestId } } }),
      };
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // No answer at all (timed out, connection lost): API Gateway answers that itself, whatever SQS did.
      if (status === undefined) throw error;
      return queryError(status, (error as Error).name, 'the queue did not take the message');
    }
  };
}

function queryError(statusCode: number, code: string, message: string): ServiceAnswer {
  return { statusCode, body: JSON.stringify({ Error: { Code: code, Message: message } }) };
}
