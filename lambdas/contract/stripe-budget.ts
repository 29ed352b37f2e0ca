/**
 * One Stripe budget: how many requests per second this deployment may send to Stripe, across every
 * caller, and each caller's share of it. Stripe limits an account to 25 operations/s in a sandbox
 * and 100 in live mode, each endpoint (such as `POST /v1/payment_intents`) to 25/s, and search to
 * 20 reads/s, unless it raises them (weeks of notice). The CDK stack sizes the gateway throttle, the
 * worker, the reconciler and the audit from this one number (`-c stripeRequestsPerSecond=N`), and
 * the functions pace themselves by it at run time; docs/scaling.md shows the arithmetic.
 */
export const DEFAULT_STRIPE_REQUESTS_PER_SECOND = 25;

/**
 * Each caller's share, fixed so that no caller can spend another's: a gateway throttle and a
 * worker pace cannot borrow what the other leaves idle. They add up to the whole budget.
 */
export const STRIPE_BUDGET_SHARES = {
  /** `POST /payments`: one PaymentIntent creation per order (a lookup only for an order pending a day). */
  syncCharges: 0.4,
  /** `POST /payments/{orderId}/refunds`. */
  refunds: 0.1,
  /** The queue worker: one creation per queued order. */
  worker: 0.3,
  /** The reconciler's searches and listings for orders left pending. */
  reconciler: 0.1,
  /** The daily audit's listings. */
  audit: 0.05,
  /** The webhook's and the events catch-up's lookups (refunds and disputes made outside this service, missed events). */
  facts: 0.05,
} as const;
export type StripeCaller = keyof typeof STRIPE_BUDGET_SHARES;

/** Stripe's search allows 20 reads/s per account; the reconciler takes at most half, the rest is the charge path's day-old lookups. */
export const STRIPE_SEARCH_REQUESTS_PER_SECOND = 20;
const RECONCILER_SEARCH_SHARE = 0.5;

/** A queued charge, Stripe and DynamoDB together, takes about this long (live Stripe answers a create in 0.3–1 s). */
export const EXPECTED_CHARGE_SECONDS = 1;
/** An audit slice reads one listing page (100 PaymentIntents, charges expanded) about this often. */
const AUDIT_PAGES_PER_SECOND_PER_SLICE = 2;
/** SQS event sources allow from 2 to 1,000 concurrent invocations, and at most 10 messages per batch. */
const MIN_WORKER_CONCURRENCY = 2;
const MAX_WORKER_CONCURRENCY = 1_000;
const MAX_BATCH_SIZE = 10;

/** Stripe delivers this many events per charged order to the webhook (measured: `npm run bench`). */
export const WEBHOOK_EVENTS_PER_ORDER = 2;
/** The webhook route admits twice the deliveries the budget's orders cause: Stripe retries what is refused. */
const WEBHOOK_HEADROOM = 2;
/** API Gateway's default for all of an account's APIs in a region: the webhook alone must never be sized past half of it. */
const WEBHOOK_MAX_REQUESTS_PER_SECOND = 5_000;
/** An inline Map state runs at most 40 iterations at once, whatever its MaxConcurrency says. */
const MAX_AUDIT_SLICES_AT_ONCE = 40;

export interface Throttle {
  /** Steady requests per second. */
  rateLimit: number;
  /** Requests admitted at once above the steady rate. */
  burstLimit: number;
}

export interface StripeBudget {
  requestsPerSecond: number;
  /** The stage throttle of `POST /payments` (all clients together). */
  syncCharges: Throttle;
  /** The stage throttle of `POST /payments/{orderId}/refunds`. */
  refunds: Throttle;
  worker: {
    requestsPerSecond: number;
    /** Messages per invocation, charged in parallel. */
    batchSize: number;
    /** The event source mapping's maximum concurrency. */
    maxConcurrency: number;
    /** Each invocation starts at most this many charges per second, so all of them together stay within the share. */
    requestsPerSecondPerInvocation: number;
    /** The queued orders per second the queue path is rated for: half the worker's rate, the rest drains bursts. */
    ratedOrdersPerSecond: number;
  };
  reconciler: { requestsPerSecond: number; parallelism: number };
  audit: { requestsPerSecond: number; maxConcurrency: number };
  facts: { requestsPerSecond: number };
  /** Orders per second the budget can charge: the sync route's and the worker's shares. */
  ordersPerSecond: number;
  /** The stage throttle of `POST /webhooks/stripe`, well above the deliveries those orders cause. */
  webhook: Throttle;
}

const share = (requestsPerSecond: number, caller: StripeCaller) => requestsPerSecond * STRIPE_BUDGET_SHARES[caller];
/** A steady rate and a burst of one second's worth (at least one request). */
export const throttleOf = (rateLimit: number): Throttle => ({ rateLimit, burstLimit: Math.max(1, Math.ceil(rateLimit)) });

/** Every caller sized from the one number; throws naming the setting when it is not a positive number. */
export function stripeBudgetOf(requestsPerSecond: number = DEFAULT_STRIPE_REQUESTS_PER_SECOND): StripeBudget {
  if (!Number.isFinite(requestsPerSecond) || requestsPerSecond <= 0) {
    throw new Error(`stripeRequestsPerSecond must be a positive number, not "${requestsPerSecond}"`);
  }
  const workerRate = share(requestsPerSecond, 'worker');
  // Enough charges in flight to keep the rate while each takes EXPECTED_CHARGE_SECONDS.
  const inFlight = Math.max(MIN_WORKER_CONCURRENCY, Math.ceil(workerRate * EXPECTED_CHARGE_SECONDS));
  const batchSize = Math.min(MAX_BATCH_SIZE, Math.ceil(inFlight / MIN_WORKER_CONCURRENCY));
  const maxConcurrency = Math.max(MIN_WORKER_CONCURRENCY, Math.ceil(inFlight / batchSize));
  // Past this the event source mapping fails to deploy: refused at synth, naming the setting.
  if (maxConcurrency > MAX_WORKER_CONCURRENCY) {
    const most = Math.floor((MAX_WORKER_CONCURRENCY * MAX_BATCH_SIZE) / (STRIPE_BUDGET_SHARES.worker * EXPECTED_CHARGE_SECONDS));
    throw new Error(
      `stripeRequestsPerSecond can be at most ${most}: the worker's share would need more than SQS's ${MAX_WORKER_CONCURRENCY} concurrent invocations, not "${requestsPerSecond}"`,
    );
  }
  const reconcilerRate = Math.min(share(requestsPerSecond, 'reconciler'), STRIPE_SEARCH_REQUESTS_PER_SECOND * RECONCILER_SEARCH_SHARE);
  const auditRate = share(requestsPerSecond, 'audit');
  const ordersPerSecond = share(requestsPerSecond, 'syncCharges') + workerRate;
  return {
    requestsPerSecond,
    syncCharges: throttleOf(share(requestsPerSecond, 'syncCharges')),
    refunds: throttleOf(share(requestsPerSecond, 'refunds')),
    worker: {
      requestsPerSecond: workerRate,
      batchSize,
      maxConcurrency,
      requestsPerSecondPerInvocation: workerRate / maxConcurrency,
      ratedOrdersPerSecond: workerRate / 2,
    },
    reconciler: { requestsPerSecond: reconcilerRate, parallelism: Math.max(1, Math.ceil(reconcilerRate)) },
    audit: {
      requestsPerSecond: auditRate,
      maxConcurrency: Math.min(MAX_AUDIT_SLICES_AT_ONCE, Math.max(1, Math.floor(auditRate / AUDIT_PAGES_PER_SECOND_PER_SLICE))),
    },
    facts: { requestsPerSecond: share(requestsPerSecond, 'facts') },
    ordersPerSecond,
    webhook: throttleOf(Math.min(WEBHOOK_MAX_REQUESTS_PER_SECOND, Math.max(25, Math.ceil(ordersPerSecond * WEBHOOK_EVENTS_PER_ORDER * WEBHOOK_HEADROOM)))),
  };
}

/**
 * How long the queue takes to drain after a burst of `multiple` × its rated rate for `burstSeconds`,
 * orders still arriving at the rated rate meanwhile: the excess over the worker's spare rate.
 */
export function burstDrainSeconds(budget: StripeBudget, multiple = 10, burstSeconds = 60): number {
  const { requestsPerSecond: workerRate, ratedOrdersPerSecond: rated } = budget.worker;
  return ((multiple - 1) * rated * burstSeconds) / (workerRate - rated);
}

/** `-c stripeRequestsPerSecond=N` or the functions' environment variable, checked. */
export function stripeRequestsPerSecondFrom(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_STRIPE_REQUESTS_PER_SECOND;
  const parsed = Number(value);
  stripeBudgetOf(parsed);
  return parsed;
}
