/**
 * Drives a running payments API from outside, as a client would, and exits 1 on any failed check:
 *   npm run smoke                                  the stack `npm run deploy` wrote to cdk-outputs.json
 *                                                  (STACK_NAME, default ExactlyOncePayments); the API key's
 *                                                  value is read with your AWS credentials (apigateway:GET)
 *   npm run smoke -- --url <url> [--api-key <key>] any deployment, or `npm start`'s URL
 *   npm run smoke -- --local                       the running `npm start`
 * Against AWS the Stripe secret must hold a Stripe test key: the checks charge Stripe's test card.
 */

import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { HTTP_HEADERS } from '../lambdas/contract/http-headers';
import { QUEUED_STATUS } from '../lambdas/contract/routes';
import { readRuntimeFile } from '../local/runtime-file';
import { OUTPUTS_FILE, STACK_NAME } from './stack-outputs';

const FINAL_STATE_WITHIN_MS = 60_000;

interface Target {
  url: string;
  apiKey?: string;
}

interface SmokeCheck {
  check: string;
  expected: string;
  got: string;
  ok: boolean;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Runs every check against the API at `url` (with trailing slash or without) and returns what each saw. */
async function runSmokeChecks({ url, apiKey }: Target): Promise<SmokeCheck[]> {
  const base = url.replace(/\/+$/, '');
  const send = async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(apiKey !== undefined && { [HTTP_HEADERS.apiKey]: apiKey }), ...headers },
      body,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: parsed(text) };
  };
  const run = `smoke-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}-${randomUUID().slice(0, 8)}`;
  const order = (orderId: string, amount = 1999) =>
    JSON.stringify({ orderId, amount, currency: 'eur', paymentMethod: 'pm_card_visa', description: 'npm run smoke' });
  const checks: SmokeCheck[] = [];
  const expect = (check: string, expected: string, answer: Answer, ok: boolean, detail = '') =>
    checks.push({ check, expected, got: `${answer.status}${detail}${ok ? '' : failureOf(answer)}`, ok });

  const syncOrder = `${run}-sync`;
  const charged = await send('POST', '/payments', order(syncOrder));
  expect('POST /payments charges a new order', '201', charged, charged.status === 201, ` ${charged.body.status ?? ''}`);
  const replay = await send('POST', '/payments', order(syncOrder));
  const replayed = replay.headers.get(HTTP_HEADERS.idempotentReplayed);
  expect(
    'the same request again replays the answer',
    '200, Idempotent-Replayed: true',
    replay,
    replay.status === 200 && replayed === 'true',
    `, Idempotent-Replayed: ${replayed}`,
  );
  const otherAmount = await send('POST', '/payments', order(syncOrder, 2999));
  expect('the same orderId with another amount is refused', '422', otherAmount, otherAmount.status === 422);
  const badBody = await send('POST', '/payments', JSON.stringify({ orderId: `${run}-bad`, amount: -1, currency: 'eur' }));
  expect('a bad body is refused', '400', badBody, badBody.status === 400);

  const asyncOrder = `${run}-async`;
  const queued = await send('POST', '/payments/async', order(asyncOrder));
  // A messageId shows the response template read SQS's answer (the integration asks SQS for JSON).
  const messageId = typeof queued.body.messageId === 'string' && queued.body.messageId !== '' ? 'a messageId' : 'no messageId';
  expect(
    'POST /payments/async queues the order',
    '202 queued, a messageId',
    queued,
    queued.status === 202 && queued.body.status === QUEUED_STATUS && messageId === 'a messageId',
    ` ${queued.body.status ?? ''}, ${messageId}`,
  );
  // Nothing queued, nothing to wait for: the check fails at once.
  const settled = queued.status === 202 ? await finalState(() => send('GET', `/payments/${asyncOrder}`)) : queued;
  expect(
    `GET reaches a final state within ${FINAL_STATE_WITHIN_MS / 1000} s`,
    '200, not pending',
    settled,
    settled.status === 200 && settled.body.status !== 'pending',
    ` ${settled.body.status ?? ''}`,
  );

  const unsigned = await send('POST', '/webhooks/stripe', JSON.stringify({ id: 'evt_smoke', type: 'payment_intent.succeeded' }));
  expect('an unsigned webhook is refused', '400', unsigned, unsigned.status === 400);
  const unknown = await send('GET', `/payments/${run}-never`);
  expect('an unknown orderId is not found', '404', unknown, unknown.status === 404);
  return checks;
}

async function finalState(get: () => Promise<Answer>): Promise<Answer> {
  const deadline = Date.now() + FINAL_STATE_WITHIN_MS;
  for (;;) {
    const answer = await get();
    if ((answer.status === 200 && answer.body.status !== 'pending') || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 1000));
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
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : { value };
  } catch {
    return {};
  }
}

/** The API to check: `--url`/`--api-key`, `--local`, or the stack `npm run deploy` wrote to cdk-outputs.json. */
async function target(argv: string[]): Promise<Target> {
  const { values } = parseArgs({ args: argv, options: { url: { type: 'string' }, 'api-key': { type: 'string' }, local: { type: 'boolean' } } });
  if (values.url !== undefined) return { url: values.url, apiKey: values['api-key'] };
  if (values.local) return { url: readRuntimeFile().url, apiKey: values['api-key'] };
  if (!existsSync(OUTPUTS_FILE)) throw new Error(`no ${OUTPUTS_FILE}: run npm run deploy first, or pass --url (and --api-key), or --local`);
  const stacks = JSON.parse(readFileSync(OUTPUTS_FILE, 'utf8')) as Record<string, Record<string, string>>;
  const outputs = stacks[STACK_NAME];
  if (outputs?.ApiUrl === undefined || outputs.ApiKeyId === undefined) throw new Error(`${OUTPUTS_FILE} has no ApiUrl and ApiKeyId for stack ${STACK_NAME}`);
  const apiKey = values['api-key'] ?? (await new APIGatewayClient({}).send(new GetApiKeyCommand({ apiKey: outputs.ApiKeyId, includeValue: true }))).value;
  return { url: outputs.ApiUrl, apiKey };
}

async function main(): Promise<void> {
  const { url, apiKey } = await target(process.argv.slice(2));
  console.log(`Smoke checks against ${url}`);
  const checks = await runSmokeChecks({ url, apiKey });
  console.table(checks.map(({ check, expected, got, ok }) => ({ check, expected, got, result: ok ? 'pass' : 'FAIL' })));
  const failed = checks.filter(({ ok }) => !ok).length;
  console.log(failed === 0 ? `All ${checks.length} checks passed.` : `${failed} of ${checks.length} checks failed.`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
