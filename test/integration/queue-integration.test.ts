import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { type LocalApi, startLocalApi } from '../../local/api-server';
import { localSqsClient, type SqsEmulator, startSqsEmulator } from '../../local/queues';
import { sqsQueryEndpoint } from '../../local/sqs-query-protocol';

/**
 * POST /payments/async as npm start serves it: the deployed mapping templates rendered, the form
 * sent to the SQS emulator, the message read back from the queue.
 */
let emulator: SqsEmulator;
let sqs: SQSClient;
const started: LocalApi[] = [];

const notCalled: ApiHandler = async () => {
  throw new Error('only the queue route is called here');
};

async function apiOnQueue(queueUrl: string, client = sqs): Promise<string> {
  const api = await startLocalApi({
    port: 0,
    handlers: { chargePayment: notCalled, getPayment: notCalled, stripeWebhook: notCalled },
    queueEndpoint: sqsQueryEndpoint(client, queueUrl),
    timeoutSeconds: 5,
  });
  started.push(api);
  return api.url;
}

async function newQueue(): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: `templates-${randomUUID().slice(0, 8)}` }))).QueueUrl as string;
}

beforeAll(async () => {
  emulator = await startSqsEmulator();
  sqs = localSqsClient(emulator.endpoint);
});
afterAll(async () => {
  await Promise.all(started.map((api) => api.stop()));
  sqs?.destroy();
  await emulator?.stop();
});

const postRaw = (url: string, body: string) => fetch(`${url}/payments/async`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

it('queues the body byte for byte, whatever &, +, %, quotes, newlines and non-ASCII text it holds, and answers with its MessageId', async () => {
  const queueUrl = await newQueue();
  const url = await apiOnQueue(queueUrl);
  // No character above U+FFFF: SQS takes them, the emulator (fauxqs) refuses them; the unit tests render them.
  const body = `{\n  "orderId": "bytes-${randomUUID()}",\r\n\t"amount": 1999, "currency": "eur",\n  "description": "a&b=c+d 100% %2B \\"quoted\\" 'single' \\\\ line\\nbreak Grüße 東京 \\u00e9"\n}`;

  const response = await postRaw(url, body);
  expect(response.status).toBe(202);
  const answer = (await response.json()) as { messageId: string; requestId: string; status: string };
  expect(answer).toEqual({ messageId: expect.any(String), requestId: expect.any(String), status: 'queued' });

  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
  expect(Messages).toHaveLength(1);
  expect(Messages[0].MessageId).toBe(answer.messageId);
  expect(Buffer.from(Messages[0].Body as string)).toEqual(Buffer.from(body));
});

it('answers 400 and queues nothing when SQS refuses the message (here: no such queue)', async () => {
  const url = await apiOnQueue(`${emulator.endpoint}/000000000000/no-such-queue`);
  const response = await postRaw(url, JSON.stringify({ orderId: 'refused-1', amount: 1999, currency: 'eur' }));
  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({ error: { code: 'invalid_request', message: 'the queue refused this order' } });
});

it('answers 503 queue_unavailable when SQS cannot be reached', async () => {
  const unreachable = localSqsClient('http://127.0.0.1:9'); // the discard port: nothing listens
  const url = await apiOnQueue(await newQueue(), unreachable);
  const response = await postRaw(url, JSON.stringify({ orderId: 'unreachable-1', amount: 1999, currency: 'eur' }));
  unreachable.destroy();
  expect(response.status).toBe(503);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe('queue_unavailable');
});
