import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { type AnsweredRequest, startLocalApi } from '../../local/api-server';
import { integrationSqsClient, localSqsClient, type SqsEmulator, startSqsEmulator } from '../../local/queues';
import { sqsQueryEndpoint } from '../../local/sqs-query-protocol';

/**
 * POST /payments/async as npm start serves it: API Gateway's checks, the deployed mapping templates
 * rendered, the form sent to the SQS emulator once, the message read back from the queue.
 */
let emulator: SqsEmulator;
let sqs: SQSClient;
const closing: Array<() => Promise<unknown>> = [];

const notCalled: ApiHandler = async () => {
  throw new Error('only the queue route is called here');
};

async function apiOnQueue(queueUrl: string, endpoint = emulator.endpoint, onRequest?: (request: AnsweredRequest) => void): Promise<string> {
  const client = integrationSqsClient(endpoint);
  const api = await startLocalApi({
    port: 0,
    handlers: { chargePayment: notCalled, refundPayment: notCalled, getPayment: notCalled, stripeWebhook: async () => ({ statusCode: 400, body: '{}' }) },
    queueEndpoint: sqsQueryEndpoint(client, queueUrl),
    timeoutSeconds: 5,
    onRequest,
  });
  closing.push(async () => client.destroy(), api.stop);
  return api.url;
}

async function newQueue(): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: `templates-${randomUUID().slice(0, 8)}` }))).QueueUrl as string;
}

async function messagesOn(queueUrl: string): Promise<string[]> {
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  return Messages.map(({ Body }) => Body as string);
}

beforeAll(async () => {
  emulator = await startSqsEmulator();
  sqs = localSqsClient(emulator.endpoint);
});
afterAll(async () => {
  await Promise.all(closing.map((close) => close()));
  sqs?.destroy();
  await emulator?.stop();
});

const postRaw = (url: string, body: string, contentType = 'application/json') =>
  fetch(`${url}/payments/async`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
const anOrder = () => JSON.stringify({ orderId: `order-${randomUUID()}`, amount: 1999, currency: 'eur' });

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

it('refuses with 415 a body that is not JSON, and takes JSON with a charset, as API Gateway does without a matching template', async () => {
  const queueUrl = await newQueue();
  const url = await apiOnQueue(queueUrl);
  const refused = await postRaw(url, anOrder(), 'text/plain');
  expect(refused.status).toBe(415);
  expect(await refused.json()).toEqual({ error: { code: 'request_refused', message: 'Unsupported Media Type' } });
  expect(await messagesOn(queueUrl)).toEqual([]);
  expect((await postRaw(url, anOrder(), 'application/json; charset=utf-8')).status).toBe(202);
});

it("checks the body against the request model and answers with the deployed gateway response, naming no field, as API Gateway's does", async () => {
  const queueUrl = await newQueue();
  const url = await apiOnQueue(queueUrl);
  for (const body of [
    '{"orderId":"o-1","amount":-1,"currency":"eur"}',
    '{"orderId":"o-1","amount":1999,"currency":"eur","paymentMethod":"4242424242424242"}',
    'not json',
  ]) {
    const response = await postRaw(url, body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { code: 'invalid_request', message: 'Invalid request body' } });
  }
  expect(await messagesOn(queueUrl)).toEqual([]);
  // What the model cannot see, it passes on: the worker refuses it (dead-lettered, see charge-queue.test.ts).
  expect((await postRaw(url, JSON.stringify({ orderId: 'o-2', amount: 1999, currency: 'eur', description: 'x\udc00' }))).status).toBe(202);
});

it('answers 400 and queues nothing when SQS refuses the message (here: no such queue)', async () => {
  const url = await apiOnQueue(`${emulator.endpoint}/000000000000/no-such-queue`);
  const response = await postRaw(url, anOrder());
  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({ error: { code: 'invalid_request', message: 'the queue refused this order' } });
});

it('sends once and answers 500 gateway_error, not "not queued", when SQS took the message but its answer was lost', async () => {
  const queueUrl = await newQueue();
  let forwarded = 0;
  // Forwards each request to the emulator, waits for its whole answer, then drops the connection instead of passing it on.
  const lossy: Server = createServer((incoming, outgoing) => {
    forwarded += 1;
    const upstream = httpRequest(`${emulator.endpoint}${incoming.url}`, { method: incoming.method, headers: incoming.headers }, (answer) => {
      answer.resume();
      answer.on('end', () => outgoing.socket?.destroy());
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => lossy.listen(0, '127.0.0.1', resolve));
  closing.push(() => new Promise((resolve) => lossy.close(resolve)));
  const url = await apiOnQueue(queueUrl, `http://127.0.0.1:${(lossy.address() as AddressInfo).port}`);

  const response = await postRaw(url, anOrder());
  expect(response.status).toBe(500);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe('gateway_error');
  expect(forwarded).toBe(1); // API Gateway sends once; the SDK's own retries would queue it three times
  expect(await messagesOn(queueUrl)).toHaveLength(1);
});

it('answers 500 gateway_error when SQS cannot be reached', async () => {
  const url = await apiOnQueue(await newQueue(), 'http://127.0.0.1:9'); // the discard port: nothing listens
  const response = await postRaw(url, anOrder());
  expect(response.status).toBe(500);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe('gateway_error');
});

it('answers what API Gateway answers itself with the deployed gateway responses: an unknown route, a crashed function', async () => {
  const url = await apiOnQueue(await newQueue());
  const unknown = await fetch(`${url}/nope`);
  expect(unknown.status).toBe(403);
  expect(await unknown.json()).toEqual({ error: { code: 'request_refused', message: 'Missing Authentication Token' } });
  const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const crashed = await fetch(`${url}/payments/order-1`); // getPayment is notCalled here: it throws
    expect(crashed.status).toBe(502);
    expect(await crashed.json()).toEqual({ error: { code: 'gateway_error', message: 'Internal server error' } });
    // What npm start prints: the error's summary, never its message or stack (they may hold payment data).
    expect(printed.mock.calls).toEqual([['local API: handler crashed', { name: 'Error' }]]);
  } finally {
    printed.mockRestore();
  }
});

it("answers a function that timed out with the gateway's 502, and a body over 10 MB with its 413, in the contract's error shape", async () => {
  const api = await startLocalApi({
    port: 0,
    handlers: { chargePayment: () => new Promise(() => undefined), refundPayment: notCalled, getPayment: notCalled, stripeWebhook: notCalled },
    queueEndpoint: async () => ({ statusCode: 500, body: '' }),
    timeoutSeconds: 1,
  });
  closing.push(api.stop);
  const timedOut = await fetch(`${api.url}/payments`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: anOrder() });
  expect(timedOut.status).toBe(502);
  expect(await timedOut.json()).toEqual({ error: { code: 'gateway_error', message: 'Internal server error' } });
  const tooLarge = await fetch(`${api.url}/payments`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: 'x'.repeat(10 * 1024 * 1024 + 1),
  });
  expect(tooLarge.status).toBe(413);
  expect(await tooLarge.json()).toEqual({ error: { code: 'payload_too_large', message: 'Request Too Long' } });
});

it("logs a charge request's orderId, and no orderId from a webhook's body, which nothing has verified yet", async () => {
  const answered: AnsweredRequest[] = [];
  const url = await apiOnQueue(await newQueue(), emulator.endpoint, (request) => answered.push(request));
  await postRaw(url, JSON.stringify({ orderId: 'logged-1', amount: 1999, currency: 'eur' }));
  const forged = { id: 'evt_forged', type: 'payment_intent.succeeded', data: { object: { metadata: { orderId: 'someone-elses' } } } };
  await fetch(`${url}/webhooks/stripe`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(forged) });
  expect(answered.map(({ path, statusCode, orderId }) => [path, statusCode, orderId])).toEqual([
    ['/payments/async', 202, 'logged-1'],
    ['/webhooks/stripe', 400, undefined],
  ]);
});
