import fc from 'fast-check';
import {
  checkedRateLimitSchedule,
  OUTAGE_RIDDEN_OUT_SECONDS,
  RATE_LIMIT_SCHEDULE,
  rateLimitedRetry,
  SQS_MAX_DELAY_SECONDS,
} from '../../lambdas/contract/queues';

const now = Date.parse('2030-01-01T00:00:00Z');
const secondsAgo = (seconds: number) => now - seconds * 1000;

describe("waiting out Stripe's rate limit without spending receives", () => {
  it('sends a message rate limited for the first time again within a few seconds, marked with now', () => {
    const retry = rateLimitedRetry(undefined, now, () => 0.99);
    expect(retry).toEqual({ sendAgain: true, delaySeconds: RATE_LIMIT_SCHEDULE.baseDelaySeconds, firstRateLimitedAt: now });
    expect(RATE_LIMIT_SCHEDULE.baseDelaySeconds).toBeLessThanOrEqual(5);
  });

  it('keeps when it was first rate limited, and waits about as long again (the wait doubles), within what SQS allows', () => {
    expect(rateLimitedRetry(secondsAgo(40), now, () => 0.99)).toEqual({ sendAgain: true, delaySeconds: 40, firstRateLimitedAt: secondsAgo(40) });
    expect(rateLimitedRetry(secondsAgo(40), now, () => 0)).toMatchObject({ delaySeconds: 20 });
    expect(rateLimitedRetry(secondsAgo(50 * 60), now, () => 0.999)).toMatchObject({ delaySeconds: RATE_LIMIT_SCHEDULE.maxDelaySeconds });
    expect(RATE_LIMIT_SCHEDULE.maxDelaySeconds).toBeLessThanOrEqual(SQS_MAX_DELAY_SECONDS);
  });

  it('spends receives again once the order has been rate limited longer than an outage is ridden out, so it still reaches the dead-letter queue', () => {
    expect(RATE_LIMIT_SCHEDULE.rideOutSeconds).toBe(OUTAGE_RIDDEN_OUT_SECONDS);
    expect(rateLimitedRetry(secondsAgo(OUTAGE_RIDDEN_OUT_SECONDS - 1), now)).toMatchObject({ sendAgain: true });
    expect(rateLimitedRetry(secondsAgo(OUTAGE_RIDDEN_OUT_SECONDS), now)).toEqual({ sendAgain: false });
  });

  it('picks every delay in whole seconds between its floor and ceiling, never above the maximum, whatever the clock says (jitter)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -3600, max: OUTAGE_RIDDEN_OUT_SECONDS - 1 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (ago, random) => {
          const retry = rateLimitedRetry(secondsAgo(ago), now, () => random);
          if (!retry.sendAgain) throw new Error('expected to send again');
          expect(Number.isInteger(retry.delaySeconds)).toBe(true);
          expect(retry.delaySeconds).toBeGreaterThanOrEqual(Math.ceil(RATE_LIMIT_SCHEDULE.baseDelaySeconds / 2));
          expect(retry.delaySeconds).toBeLessThanOrEqual(RATE_LIMIT_SCHEDULE.maxDelaySeconds);
        },
      ),
    );
  });

  it('refuses a schedule SQS cannot honour, naming the field', () => {
    expect(checkedRateLimitSchedule(RATE_LIMIT_SCHEDULE)).toBe(RATE_LIMIT_SCHEDULE);
    expect(() => checkedRateLimitSchedule({ ...RATE_LIMIT_SCHEDULE, maxDelaySeconds: 901 })).toThrow(/maxDelaySeconds/);
    expect(() => checkedRateLimitSchedule({ ...RATE_LIMIT_SCHEDULE, baseDelaySeconds: 0 })).toThrow(/baseDelaySeconds/);
    expect(() => checkedRateLimitSchedule({ ...RATE_LIMIT_SCHEDULE, rideOutSeconds: Number.NaN })).toThrow(/rideOutSeconds/);
  });
});
