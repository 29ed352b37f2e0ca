import {
  burstDrainSeconds,
  DEFAULT_STRIPE_REQUESTS_PER_SECOND,
  STRIPE_BUDGET_SHARES,
  STRIPE_SEARCH_REQUESTS_PER_SECOND,
  stripeBudgetOf,
  stripeRequestsPerSecondFrom,
} from '../../lambdas/contract/stripe-budget';

describe('the Stripe budget', () => {
  it('gives every caller a share, and the shares add up to the whole budget', () => {
    const total = Object.values(STRIPE_BUDGET_SHARES).reduce((sum, part) => sum + part, 0);
    expect(total).toBeCloseTo(1, 10);
  });

  it.each([10, DEFAULT_STRIPE_REQUESTS_PER_SECOND, 100, 2_500, 25_000, 33_333])('at %s requests/s, all callers together stay within it', (rate) => {
    const budget = stripeBudgetOf(rate);
    const spent =
      budget.syncCharges.rateLimit +
      budget.refunds.rateLimit +
      budget.worker.requestsPerSecond +
      budget.reconciler.requestsPerSecond +
      budget.audit.requestsPerSecond +
      budget.facts.requestsPerSecond;
    expect(spent).toBeLessThanOrEqual(rate + 1e-9);
    // Every invocation's pace times the most invocations is the worker's share, never more.
    expect(budget.worker.requestsPerSecondPerInvocation * budget.worker.maxConcurrency).toBeCloseTo(budget.worker.requestsPerSecond, 10);
    expect(budget.worker.batchSize).toBeGreaterThanOrEqual(1);
    expect(budget.worker.batchSize).toBeLessThanOrEqual(10);
    expect(budget.worker.maxConcurrency).toBeGreaterThanOrEqual(2);
    expect(budget.worker.maxConcurrency).toBeLessThanOrEqual(1_000);
    // Enough in flight to reach the share when a charge takes a second.
    expect(budget.worker.batchSize * budget.worker.maxConcurrency).toBeGreaterThanOrEqual(Math.ceil(budget.worker.requestsPerSecond));
    expect(budget.reconciler.requestsPerSecond).toBeLessThanOrEqual(STRIPE_SEARCH_REQUESTS_PER_SECOND / 2);
    expect(budget.audit.maxConcurrency).toBeGreaterThanOrEqual(1);
    // Twice the deliveries the orders cause, but never past half of API Gateway's default account limit.
    expect(budget.webhook.rateLimit).toBe(Math.min(5_000, Math.max(25, Math.ceil(4 * budget.ordersPerSecond))));
  });

  it('sizes the sandbox default: 10 sync charges/s, a worker of 2 × 4 at 7.5/s', () => {
    const budget = stripeBudgetOf();
    expect(budget.syncCharges).toEqual({ rateLimit: 10, burstLimit: 10 });
    expect(budget.worker).toMatchObject({ requestsPerSecond: 7.5, batchSize: 4, maxConcurrency: 2 });
    expect(budget.ordersPerSecond).toBe(17.5);
  });

  it('drains a one-minute burst of 10× the queue path’s rated rate within 10 minutes, at any budget', () => {
    for (const rate of [5, 25, 100, 2_500]) expect(burstDrainSeconds(stripeBudgetOf(rate))).toBeLessThanOrEqual(600);
  });

  it.each(['0', '-3', 'many', 'NaN'])('refuses stripeRequestsPerSecond=%s, naming the setting', (value) => {
    expect(() => stripeRequestsPerSecondFrom(value)).toThrow(/stripeRequestsPerSecond/);
  });

  it("refuses a budget whose worker would need more than SQS's 1,000 concurrent invocations (it would fail to deploy)", () => {
    expect(() => stripeBudgetOf(33_334)).toThrow(/stripeRequestsPerSecond can be at most 33333.*1000 concurrent invocations/);
    expect(() => stripeRequestsPerSecondFrom('150000')).toThrow(/stripeRequestsPerSecond/);
  });

  it('defaults to the sandbox budget when unset', () => {
    expect(stripeRequestsPerSecondFrom(undefined)).toBe(DEFAULT_STRIPE_REQUESTS_PER_SECOND);
    expect(stripeRequestsPerSecondFrom('2500')).toBe(2_500);
  });
});
