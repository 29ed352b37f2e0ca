import { pacedCharge } from '../../lambdas/adapters/charge-pace';
import type { IdempotentCharge } from '../../lambdas/adapters/idempotent-use-cases';
import { chargeResult } from '../support/charge-results';

const order = (orderId: string) => ({ orderId, amount: 100, currency: 'eur' });

describe("the worker's pace", () => {
  it('starts at most the given number of charges a second, and lets them run side by side', async () => {
    const started: number[] = [];
    let inFlight = 0;
    let peak = 0;
    const charge: IdempotentCharge = async (request) => {
      started.push(Date.now());
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 200));
      inFlight -= 1;
      return chargeResult({ orderId: request.orderId });
    };
    const paced = pacedCharge(charge, 20);
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => paced(order(id))));
    expect(results.map((result) => result.orderId)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // The n-th start comes n × 50 ms after the first at 20 a second (give or take a timer's slack).
    for (const [n, at] of started.entries()) expect(at - started[0]).toBeGreaterThanOrEqual(n * 50 - 10);
    expect(peak).toBeGreaterThan(1);
  });

  it('passes a failure through', async () => {
    const paced = pacedCharge(async () => Promise.reject(new Error('Stripe down')), 100);
    await expect(paced(order('a'))).rejects.toThrow('Stripe down');
  });

  it('refuses a rate that is not a positive number, naming it', () => {
    expect(() => pacedCharge(async () => chargeResult(), 0)).toThrow(/startsPerSecond/);
  });
});
