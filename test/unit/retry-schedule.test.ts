import fc from 'fast-check';
import {
  chargeQueue,
  OUTAGE_RIDDEN_OUT_SECONDS,
  receivesToRideOut,
  retryCeilingSeconds,
  retryDelaySeconds,
  retryFloorSeconds,
} from '../../lambdas/contract/queues';

const SQS_MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
const failedReceives = Array.from({ length: chargeQueue.maxReceiveCount - 1 }, (_, i) => i + 1);

describe('the queue retry schedule', () => {
  it('retries a transient failure within about 10 s', () => {
    expect(retryCeilingSeconds(1)).toBeLessThanOrEqual(10);
  });

  it('rides out an hour of Stripe outage before dead-lettering, even at the shortest delays', () => {
    const shortest = failedReceives.reduce((sum, n) => sum + retryFloorSeconds(n), 0);
    expect(shortest).toBeGreaterThanOrEqual(OUTAGE_RIDDEN_OUT_SECONDS);
    // …and no more receives than that needs.
    expect(shortest - retryFloorSeconds(chargeQueue.maxReceiveCount - 1)).toBeLessThan(OUTAGE_RIDDEN_OUT_SECONDS);
    expect(receivesToRideOut(OUTAGE_RIDDEN_OUT_SECONDS)).toBe(chargeQueue.maxReceiveCount);
  });

  it('grows, and never asks SQS for more than its 12 h of visibility', () => {
    for (const n of failedReceives.slice(1)) expect(retryCeilingSeconds(n)).toBeGreaterThanOrEqual(retryCeilingSeconds(n - 1));
    expect(Math.max(...failedReceives.map((n) => retryCeilingSeconds(n)))).toBeLessThanOrEqual(SQS_MAX_VISIBILITY_SECONDS);
  });

  it('picks each delay between its floor and its ceiling, whole seconds (jitter)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, random) => {
        const delay = retryDelaySeconds(n, () => random);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(retryFloorSeconds(n));
        expect(delay).toBeLessThanOrEqual(retryCeilingSeconds(n));
      }),
    );
  });
});
