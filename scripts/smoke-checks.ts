import { randomUUID } from 'node:crypto';
import { HTTP_HEADERS } from '../lambdas/contract/http-headers';
import { QUEUED_STATUS } from '../lambdas/contract/routes';

export interface SmokeTarget {
  /** The API's base URL, with or without a trailing slash. */
  url: string;
  /** Sent as `x-api-key`; without one, the API-key check is left out (npm start checks no keys). */
  apiKey?: string;
}

export interface SmokeCheck {
  check: string;
  expected: string;
  got: string;
  ok: boolean;
}

export interface SmokeTiming {
  /** How long the queued order may take to reach a final state. */
  finalStateWithinMs: number;
  /** Pauses before sending a request again after a 429 or 503 (throttling, IAM still propagating after a deploy). */
  retryDelaysMs: readonly number[];
  /** How long one request may take before it counts as unanswered. */
  requestTimeoutMs: number;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

const DEFAULT_TIMING: SmokeTiming = { finalStateWithinMs: 60_000, retryDelaysMs: [1000, 2000, 4000, 8000], requestTimeoutMs: 30_000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Drives the API as a client would and returns what each check saw. Every order is new and charged
 * with Stripe's test card (`pm_card_visa`, which live mode refuses); sending a request again after
 * a 429 or 503 is safe, as for any client, because its orderId is its idempotency key.
 */
export async function runSmokeChecks({ url, apiKey }: SmokeTarget, timing: SmokeTiming = DEFAULT_TIMING): Promise<SmokeCheck[]> {
  const base = url.replace(/\/+$/, '');
  const send = async (method: string, path: string, body?: string, withKey = true): Promise<Answer> => {
    for (const delayMs of [...timing.retryDelaysMs, undefined]) {
      const answer = await sendOnce(`${base}${path}`, method, body, withKey ? apiKey : undefined, timing.requestTimeoutMs);
      if (delayMs === undefined || (answer.status !== 429 && answer.status !== 503)) return answer;
      await sleep(delayMs);
    }
    throw new Error('unreachable: the last attempt returns');
  };
  const run = `smoke-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}-${randomUUID().slice(0, 8)}`;
  const order = (orderId: string, amount = 1999) =>
    JSON.stringify({ orderId, amount, currency: 'eur', paymentMethod: 'pm_card_visa', description: 'npm run smoke' });
  const checks: SmokeCheck[] = [];
  const expect = (check: string, expected: string, answer: Answer, ok: boolean, saw = `${answer.status}`) =>
    checks.push({ check, expected, got: `${saw}${ok ? '' : failureOf(answer)}`, ok });
  const statusOf = (answer: Answer) => `${answer.status} ${answer.body.status ?? ''}`.trim();

  const syncOrder = `${run}-sync`;
  const charged = await send('POST', '/payments', order(syncOrder));
  const paymentId = String(charged.body.paymentId);
  expect(
    'POST /payments charges a new order',
    '201 charged, a pi_ id',
    charged,
    charged.status === 201 && charged.body.status === 'charged' && paymentId.startsWith('pi_'),
    statusOf(charged),
  );
  const replay = await send('POST', '/payments', order(syncOrder));
  const replayed = replay.headers.get(HTTP_HEADERS.idempotentReplayed);
  expect(
    'the same request again replays the answer',
    `200 already_processed, ${HTTP_HEADERS.idempotentReplayed}: true, the same pi_ id`,
    replay,
    replay.status === 200 && replay.body.status === 'already_processed' && replayed === 'true' && replay.body.paymentId === paymentId,
    `${statusOf(replay)}, ${HTTP_HEADERS.idempotentReplayed}: ${replayed}`,
  );
  const refund = (refundId: string, amount: number) => JSON.stringify({ refundId, amount, reason: 'requested_by_customer' });
  const refundPath = `/payments/${syncOrder}/refunds`;
  const refunded = await send('POST', refundPath, refund('smoke-refund', 500));
  const stripeRefundId = String(refunded.body.stripeRefundId);
  expect(
    'POST /payments/{orderId}/refunds refunds part of it',
    '201 succeeded, a re_ id',
    refunded,
    refunded.status === 201 && refunded.body.status === 'succeeded' && stripeRefundId.startsWith('re_'),
    statusOf(refunded),
  );
  const refundReplay = await send('POST', refundPath, refund('smoke-refund', 500));
  const refundReplayed = refundReplay.headers.get(HTTP_HEADERS.idempotentReplayed);
  expect(
    'the same refund again replays it',
    `200, ${HTTP_HEADERS.idempotentReplayed}: true, the same re_ id`,
    refundReplay,
    refundReplay.status === 200 && refundReplayed === 'true' && refundReplay.body.stripeRefundId === stripeRefundId,
    `${refundReplay.status}, ${HTTP_HEADERS.idempotentReplayed}: ${refundReplayed}`,
  );
  const tooMuch = await send('POST', refundPath, refund('smoke-too-much', 1999));
  const tooMuchCode = (tooMuch.body.error as { code?: string } | undefined)?.code;
  expect(
    'a refund of more than is left is refused',
    '422 refund_exceeds_payment',
    tooMuch,
    tooMuch.status === 422 && tooMuchCode === 'refund_exceeds_payment',
    `${tooMuch.status} ${tooMuchCode ?? ''}`.trim(),
  );
  const otherAmount = await send('POST', '/payments', order(syncOrder, 2999));
  expect('the same orderId with another amount is refused', '422', otherAmount, otherAmount.status === 422);
  const badBody = JSON.stringify({ orderId: `${run}-bad`, amount: -1, currency: 'eur' });
  const badSync = await send('POST', '/payments', badBody);
  expect('a bad body is refused', '400', badSync, badSync.status === 400);
  const badAsync = await send('POST', '/payments/async', badBody);
  expect('a bad body is refused on the queue route too', '400', badAsync, badAsync.status === 400);

  const asyncOrder = `${run}-async`;
  const queued = await send('POST', '/payments/async', order(asyncOrder));
  // A messageId shows that the response template read SQS's answer (the integration asks SQS for JSON).
  const messageId = UUID.test(String(queued.body.messageId)) ? 'a messageId' : 'no messageId';
  expect(
    'POST /payments/async queues the order',
    '202 queued, a messageId',
    queued,
    queued.status === 202 && queued.body.status === QUEUED_STATUS && messageId === 'a messageId',
    `${statusOf(queued)}, ${messageId}`,
  );
  // Nothing queued, nothing to wait for: the check fails at once.
  const settled = queued.status === 202 ? await finalState(() => send('GET', `/payments/${asyncOrder}`), timing.finalStateWithinMs) : queued;
  expect(
    `GET shows it charged within ${timing.finalStateWithinMs / 1000} s`,
    '200 charged, 1999 eur',
    settled,
    settled.status === 200 && settled.body.status === 'charged' && settled.body.amount === 1999 && settled.body.currency === 'eur',
    statusOf(settled),
  );

  const unsigned = await send('POST', '/webhooks/stripe', JSON.stringify({ id: 'evt_smoke', type: 'payment_intent.succeeded' }));
  expect('an unsigned webhook is refused', '400', unsigned, unsigned.status === 400);
  const unknown = await send('GET', `/payments/${run}-never`);
  expect('an unknown orderId is not found', '404', unknown, unknown.status === 404);
  if (apiKey !== undefined) {
    const keyless = await send('POST', '/payments', order(`${run}-keyless`), false);
    expect(`a request without ${HTTP_HEADERS.apiKey} is refused`, '403', keyless, keyless.status === 403);
  }
  return checks;
}

async function sendOnce(url: string, method: string, body: string | undefined, apiKey: string | undefined, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', ...(apiKey !== undefined && { [HTTP_HEADERS.apiKey]: apiKey }) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, headers: response.headers, body: parsed(await response.text()) };
  } catch (error) {
    return { status: 0, headers: new Headers(), body: { message: `no answer: ${(error as Error).message}` } };
  }
}

async function finalState(get: () => Promise<Answer>, withinMs: number): Promise<Answer> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await get();
    if ((answer.status === 200 && answer.body.status !== 'pending') || Date.now() > deadline) return answer;
    await sleep(1000);
  }
}

/** What a failed check shows of the answer: its error code and message, never the whole body (a client secret may be in it). */
function failureOf({ body }: Answer): string {
  const error = body.error as { code?: unknown; message?: unknown } | undefined;
  const said = error === undefined ? body.message : `${error.code}: ${error.message}`;
  return typeof said === 'string' ? ` (${said.slice(0, 120)})` : '';
}

function parsed(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
