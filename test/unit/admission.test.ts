import {
  admissionSettingsOf,
  LAMBDA_UNRESERVED_MINIMUM,
  requiredAccountConcurrency,
  reservedConcurrencyOf,
  stageMethodThrottles,
  usagePlanMethodThrottles,
} from '../../lambdas/contract/admission';
import { routes } from '../../lambdas/contract/routes';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { tokenBucket } from '../../local/api-gateway';

describe('admission settings', () => {
  const budget = stripeBudgetOf();

  it("defaults to the template's usage plan (50/s, burst 100), half of it for GET, and the budget's webhook throttle", () => {
    expect(admissionSettingsOf(budget)).toEqual({
      api: { rateLimit: 50, burstLimit: 100 },
      get: { rateLimit: 25, burstLimit: 50 },
      webhookRequestsPerSecond: budget.webhook.rateLimit,
      // Everything the plan and the webhook admit in a minute, from one IP.
      wafRequestsPerIpPerMinute: (50 + budget.webhook.rateLimit) * 60,
    });
  });

  it('throttles at the stage exactly the routes that call Stripe and the webhook, each a route of routes.ts', () => {
    const throttled = Object.keys(stageMethodThrottles(budget, admissionSettingsOf(budget)));
    expect(throttled.sort()).toEqual(['chargePayment', 'refundPayment', 'stripeWebhook']);
    const routed = Object.keys(usagePlanMethodThrottles(admissionSettingsOf(budget)));
    for (const name of [...throttled, ...routed]) expect(routes.filter((route) => route.kind === 'lambda' && route.function === name)).toHaveLength(1);
  });

  it('gives the webhook a burst of one second of its rate when set', () => {
    const settings = admissionSettingsOf(budget, { webhookRequestsPerSecond: 40.5 });
    expect(stageMethodThrottles(budget, settings).stripeWebhook).toEqual({ rateLimit: 40.5, burstLimit: 41 });
  });
});

describe('reserved concurrency', () => {
  it('at the defaults: each from its rate, and an account needs their sum and 100 more to turn it on', () => {
    const budget = stripeBudgetOf();
    const reserved = reservedConcurrencyOf(budget, admissionSettingsOf(budget));
    expect(reserved).toEqual({
      chargePayment: 30, // 10 charges/s × 3 s (Stripe three times slower than usual)
      refundPayment: 8, // 2.5 refunds/s × 3 s
      getPayment: 13, // 25 reads/s × 0.5 s
      stripeWebhook: Math.ceil(budget.webhook.rateLimit * 0.5), // its throttle × 0.5 s
      chargeWorker: budget.worker.maxConcurrency,
      reconciler: 2,
      eventsCatchUp: 2,
      audit: 2,
    });
    const sum = Object.values(reserved).reduce((total, n) => total + n, 0);
    expect(sum).toBe(59 + reserved.stripeWebhook);
    expect(requiredAccountConcurrency(reserved)).toBe(sum + LAMBDA_UNRESERVED_MINIMUM);
  });

  it.each([10, 100, 1_000])('at %s Stripe requests/s, grows with the budget and reserves at least one for every function', (rate) => {
    const budget = stripeBudgetOf(rate);
    const reserved = reservedConcurrencyOf(budget, admissionSettingsOf(budget));
    for (const count of Object.values(reserved)) {
      expect(Number.isInteger(count)).toBe(true);
      expect(count).toBeGreaterThanOrEqual(1);
    }
    // The worker never reserves fewer than its event source may run, or its own batches would be throttled.
    expect(reserved.chargeWorker).toBe(budget.worker.maxConcurrency);
    expect(reserved.chargePayment).toBeGreaterThanOrEqual(budget.syncCharges.rateLimit);
  });
});

describe("the local stage throttle, API Gateway's token bucket", () => {
  it('admits the burst at once, then the rate, and refuses what finds the bucket empty', () => {
    let now = 0;
    const admit = tokenBucket({ rateLimit: 2, burstLimit: 3 }, () => now);
    expect([admit(), admit(), admit(), admit()]).toEqual([true, true, true, false]);
    now = 499; // less than one token back
    expect(admit()).toBe(false);
    now = 1000; // two tokens a second
    expect([admit(), admit(), admit()]).toEqual([true, true, false]);
    now = 60_000; // never more than the burst, however long it rested
    expect([admit(), admit(), admit(), admit()]).toEqual([true, true, true, false]);
  });
});
