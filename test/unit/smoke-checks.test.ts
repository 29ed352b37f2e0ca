import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runSmokeChecks, type SmokeTiming } from '../../scripts/smoke-checks';

/** A fake payments API over HTTP, right by default; each test breaks what it is about. */
interface FakeBehaviour {
  firstChargeStatus?: string;
  queuedOrdersSettleAs?: string;
  /** How many async requests answer 503 before one is queued. */
  asyncUnavailable?: number;
  checksApiKey?: boolean;
  /** Refunds again (a new re_ id, 201) when the same refund is sent again. */
  refundsTwice?: boolean;
}

const timing: SmokeTiming = { finalStateWithinMs: 2000, retryDelaysMs: [10, 10, 10], requestTimeoutMs: 2000 };
const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

async function fakeApi(behaviour: FakeBehaviour = {}): Promise<string> {
  const orders = new Map<string, { amount: number; status: string }>();
  /** The re_ id of each refund made, by `<orderId>/<refundId>` (the fake refunds 500 each). */
  const refunds = new Map<string, string>();
  let asyncUnavailable = behaviour.asyncUnavailable ?? 0;
  const server = createServer(async (request, response) => {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    const body = await text(request);
    if (behaviour.checksApiKey && request.headers['x-api-key'] === undefined && !request.url?.startsWith('/webhooks'))
      return answer(403, { message: 'Forbidden' });
    const refundOf = /^\/payments\/([^/]+)\/refunds$/.exec(request.url ?? '')?.[1];
    if (request.method === 'POST' && refundOf !== undefined) {
      const { refundId, amount } = JSON.parse(body) as { refundId: string; amount: number };
      const made = refunds.get(`${refundOf}/${refundId}`);
      if (made !== undefined && !behaviour.refundsTwice) return answer(200, { status: 'succeeded', stripeRefundId: made }, { 'Idempotent-Replayed': 'true' });
      const left = (orders.get(refundOf)?.amount ?? 0) - [...refunds.keys()].filter((key) => key.startsWith(`${refundOf}/`)).length * 500;
      if (amount > left) return answer(422, { error: { code: 'refund_exceeds_payment', message: 'too much' } });
      refunds.set(`${refundOf}/${refundId}`, `re_${refunds.size + 1}`);
      return answer(201, { status: 'succeeded', stripeRefundId: `re_${refunds.size}` });
    }
    const order = request.method === 'POST' && request.url?.startsWith('/payments') ? (JSON.parse(body) as { orderId: string; amount: number }) : undefined;
    if (order !== undefined && order.amount < 1) return answer(400, { error: { code: 'invalid_request', message: 'Invalid request body' } });
    if (request.method === 'POST' && request.url === '/payments') {
      const known = orders.get(order?.orderId ?? '');
      if (known === undefined) {
        orders.set(order?.orderId ?? '', { amount: order?.amount ?? 0, status: 'charged' });
        return answer(201, { status: behaviour.firstChargeStatus ?? 'charged', paymentId: 'pi_1' });
      }
      if (known.amount !== order?.amount) return answer(422, { error: { code: 'idempotency_key_reused', message: 'another payment' } });
      return answer(200, { status: 'already_processed', paymentId: 'pi_1' }, { 'Idempotent-Replayed': 'true' });
    }
    if (request.method === 'POST' && request.url === '/payments/async') {
      if (asyncUnavailable-- > 0) return answer(503, { error: { code: 'queue_unavailable', message: 'try again' } });
      orders.set(order?.orderId ?? '', { amount: 1999, status: behaviour.queuedOrdersSettleAs ?? 'charged' });
      return answer(202, { messageId: randomUUID(), requestId: randomUUID(), status: 'queued' });
    }
    const read = /^\/payments\/([^/]+)$/.exec(request.url ?? '')?.[1];
    const record = read === undefined ? undefined : orders.get(read);
    if (record !== undefined) return answer(200, { status: record.status, amount: record.amount, currency: 'eur' });
    if (read !== undefined) return answer(404, { error: { code: 'not_found', message: 'no such order' } });
    answer(400, { error: { code: 'invalid_signature', message: 'no signature' } });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function text(request: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => resolve(body));
  });
}

const failed = (checks: Array<{ check: string; ok: boolean }>) => checks.filter(({ ok }) => !ok).map(({ check }) => check);

it('passes an API that behaves, and checks the API key only when it has one to send', async () => {
  const withoutKey = await runSmokeChecks({ url: await fakeApi() }, timing);
  expect(failed(withoutKey)).toEqual([]);
  expect(withoutKey).toHaveLength(12);
  const withKey = await runSmokeChecks({ url: await fakeApi({ checksApiKey: true }), apiKey: 'key-1' }, timing);
  expect(failed(withKey)).toEqual([]);
  expect(withKey.at(-1)?.check).toBe('a request without x-api-key is refused');
});

it('fails a stack whose charges do not end charged, whatever status code it answers with', async () => {
  const checks = await runSmokeChecks({ url: await fakeApi({ firstChargeStatus: 'requires_action', queuedOrdersSettleAs: 'declined' }) }, timing);
  expect(failed(checks)).toEqual(['POST /payments charges a new order', 'GET shows it charged within 2 s']);
});

it('fails a stack that lets a request through without its API key', async () => {
  const checks = await runSmokeChecks({ url: await fakeApi({ checksApiKey: false }), apiKey: 'key-1' }, timing);
  expect(failed(checks)).toEqual(['a request without x-api-key is refused']);
});

it('sends a request again after a 503, as a client would (right after a deploy, IAM may still be propagating)', async () => {
  const checks = await runSmokeChecks({ url: await fakeApi({ asyncUnavailable: 2 }) }, timing);
  expect(failed(checks)).toEqual([]);
  const stillDown = await runSmokeChecks({ url: await fakeApi({ asyncUnavailable: 100 }) }, timing);
  expect(failed(stillDown)).toEqual(['POST /payments/async queues the order', 'GET shows it charged within 2 s']);
});

it('fails a stack that refunds the same refund twice', async () => {
  const checks = await runSmokeChecks({ url: await fakeApi({ refundsTwice: true }) }, timing);
  expect(failed(checks)).toEqual(['the same refund again replays it']);
});
