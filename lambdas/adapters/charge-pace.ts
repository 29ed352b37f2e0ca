import Bottleneck from 'bottleneck';
import type { IdempotentCharge } from './idempotent-use-cases';

/**
 * The charge, started at most `startsPerSecond` times a second (Bottleneck's `minTime` between
 * starts), the calls still running side by side. One per worker execution environment: the event
 * source mapping's maximum concurrency times this rate is the worker's share of the Stripe budget
 * (`stripeBudgetOf(…).worker.requestsPerSecondPerInvocation`), however fast Stripe answers or refuses.
 */
export function pacedCharge(charge: IdempotentCharge, startsPerSecond: number): IdempotentCharge {
  if (!(startsPerSecond > 0)) throw new Error(`startsPerSecond must be a positive number, not ${startsPerSecond}`);
  const limiter = new Bottleneck({ minTime: Math.ceil(1000 / startsPerSecond) });
  return (order, context) => limiter.schedule(() => charge(order, context));
}
