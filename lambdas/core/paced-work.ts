import Bottleneck from 'bottleneck';

/** A caller's share of the Stripe budget (stripe-budget.ts): requests per second, and how many at once. */
export interface ReadBudget {
  requestsPerSecond: number;
  parallelism: number;
}

/** Sends each Stripe request when the budget allows it. */
export type StripeRequestPacer = <T>(request: () => Promise<T>) => Promise<T>;

/**
 * Paces each Stripe request, not each record: the budget counts requests, and a record costs one
 * search or, while search lags, a search and a few listing pages.
 */
export function stripeRequestPacer({ requestsPerSecond, parallelism }: ReadBudget): StripeRequestPacer {
  const limiter = new Bottleneck({ maxConcurrent: parallelism, minTime: 1000 / requestsPerSecond });
  return (request) => limiter.schedule(request);
}

/**
 * Runs `work` on each item, at most `parallelism` at once, and reads the next item only when one
 * is done, so a backlog of millions is read as fast as it is worked on, never held in memory.
 * Stops taking items once `stop()` is true, waits for those started, and answers whether it
 * stopped early. `work` must not throw: one item's failure is its own to count.
 */
export async function forEachAtMost<T>(items: AsyncIterable<T>, parallelism: number, work: (item: T) => Promise<void>, stop: () => boolean): Promise<boolean> {
  const running = new Set<Promise<void>>();
  try {
    for await (const item of items) {
      if (stop()) return true;
      const task = work(item).finally(() => running.delete(task));
      running.add(task);
      if (running.size >= parallelism) await Promise.race(running);
    }
    return false;
  } finally {
    await Promise.all(running);
  }
}
