import { admissionSettingsOf, GATEWAY_RETRY_AFTER_SECONDS, stageMethodThrottles } from '../../lambdas/contract/admission';
import { ENV } from '../../lambdas/contract/environment';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { startLocalApi } from '../../local/api-server';
import { settingsFromEnvironment, startLocalRuntime } from '../../local/runtime';

/**
 * What npm start answers in API Gateway's place at its limits: the stage's method throttles, from
 * the same budget the stack deploys, refuse with 429 and Retry-After in the contract's error shape.
 */
const closing: Array<() => Promise<void>> = [];
afterAll(() => Promise.all(closing.map((close) => close())));

const answered: ApiHandler = async () => ({ statusCode: 200, body: '{}' });
const budget = stripeBudgetOf();

async function localApi(): Promise<string> {
  const api = await startLocalApi({
    port: 0,
    handlers: { chargePayment: answered, refundPayment: answered, getPayment: answered, stripeWebhook: answered },
    queueEndpoint: async () => ({ statusCode: 500, body: '' }),
    timeoutSeconds: 5,
    stageThrottles: stageMethodThrottles(budget, admissionSettingsOf(budget)),
  });
  closing.push(api.stop);
  return api.url;
}

const order = JSON.stringify({ orderId: 'order-1', amount: 1999, currency: 'eur' });
const post = (url: string, path: string) => fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: order });

it("answers POST /payments beyond its burst with the gateway's 429 and Retry-After, and leaves the other routes their own limits", async () => {
  const url = await localApi();
  const { burstLimit, rateLimit } = budget.syncCharges;
  const startedAt = performance.now();
  const answers = await Promise.all(Array.from({ length: 3 * burstLimit }, () => post(url, '/payments')));
  const seconds = (performance.now() - startedAt) / 1000;
  const admitted = answers.filter(({ status }) => status === 200).length;
  // The burst at once, and the rate while the requests arrive; the rest refused, none failed otherwise.
  expect(admitted).toBeGreaterThanOrEqual(burstLimit);
  expect(admitted).toBeLessThanOrEqual(burstLimit + Math.ceil(rateLimit * seconds));
  expect(admitted).toBeLessThan(answers.length);
  expect(answers.filter(({ status }) => status === 429)).toHaveLength(answers.length - admitted);
  const refused = answers.find(({ status }) => status === 429) as Response;
  expect(refused.headers.get('retry-after')).toBe(String(GATEWAY_RETRY_AFTER_SECONDS));
  expect(await refused.json()).toEqual({ error: { code: 'too_many_requests', message: 'Too Many Requests' } });

  // The usage plan (per API key) is not emulated: GET has no stage throttle, and the webhook its own.
  expect((await fetch(`${url}/payments/order-1`)).status).toBe(200);
  expect((await post(url, '/webhooks/stripe')).status).toBe(200);

  await new Promise((resolve) => setTimeout(resolve, 1000 * GATEWAY_RETRY_AFTER_SECONDS));
  expect((await post(url, '/payments')).status).toBe(200);
});

it('answers a crashed function with the gateway 5xx and a Retry-After', async () => {
  const api = await startLocalApi({
    port: 0,
    handlers: { chargePayment: answered, refundPayment: answered, getPayment: () => Promise.reject(new Error('crashed')), stripeWebhook: answered },
    queueEndpoint: async () => ({ statusCode: 500, body: '' }),
    timeoutSeconds: 5,
  });
  closing.push(api.stop);
  const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const crashed = await fetch(`${api.url}/payments/order-1`);
    expect(crashed.status).toBe(502);
    expect(crashed.headers.get('retry-after')).toBe(String(GATEWAY_RETRY_AFTER_SECONDS));
  } finally {
    printed.mockRestore();
  }
});

it('is what npm start runs: STRIPE_REQUESTS_PER_SECOND sizes its stage throttles as it sizes the stack', async () => {
  const settings = settingsFromEnvironment({ [ENV.stripeRequestsPerSecond]: '2.5' });
  expect(settings.stripeRequestsPerSecond).toBe(2.5);
  // 2.5 requests/s: POST /payments admits 1 a second, a burst of 1.
  const runtime = await startLocalRuntime({ ...settings, port: 0 });
  closing.push(runtime.stop);
  const orders = Array.from({ length: 3 }, (_, index) => JSON.stringify({ orderId: `npm-start-${index}-${Date.now()}`, amount: 1999, currency: 'eur' }));
  const answers = await Promise.all(
    orders.map((body) => fetch(`${runtime.url}/payments`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })),
  );
  const refused = answers.filter(({ status }) => status === 429);
  expect(refused.length).toBeGreaterThanOrEqual(1);
  expect(refused[0].headers.get('retry-after')).toBe(String(GATEWAY_RETRY_AFTER_SECONDS));
  expect(() => settingsFromEnvironment({ [ENV.stripeRequestsPerSecond]: 'many' })).toThrow(/stripeRequestsPerSecond/);
});
