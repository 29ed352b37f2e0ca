import type { FunctionName } from './routes';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from './settings';
import { EXPECTED_CHARGE_SECONDS, type StripeBudget, type Throttle, throttleOf } from './stripe-budget';

/**
 * Admission and isolation, sized once for the CDK stack and `npm start`: what each route admits
 * per second (stage method throttles from the Stripe budget, the usage plan per API key), and,
 * opt-in, the concurrency each function reserves so that none can starve another.
 */

/** Each API key's requests per second, all of its routes together: the template's limit before it was a setting. */
const DEFAULT_API_REQUESTS_PER_SECOND = 50;
/** Each API key's share of its rate on `GET /payments/{orderId}`, unless set: polling never takes all that the POSTs need. */
const GET_SHARE_OF_KEY = 0.5;
/** A usage-plan burst, unless set, is two seconds of its rate (50/s with a burst of 100 before these were settings). */
const BURST_SECONDS = 2;
/** AWS WAF's rate-based rules count each IP's requests over this window (60 s is the shortest it offers). */
export const WAF_WINDOW_SECONDS = 60;
/** AWS WAF refuses a rate-based limit below this many requests per window. */
const WAF_MIN_LIMIT = 10;

/** The admission settings as given (context or PaymentsServiceProps), each optional; the names are the `-c` settings'. */
export interface AdmissionOptions {
  apiRequestsPerSecond?: number;
  apiBurst?: number;
  getRequestsPerSecond?: number;
  getBurst?: number;
  webhookRequestsPerSecond?: number;
  wafRequestsPerIpPerMinute?: number;
  xraySamplingRate?: number;
}

export interface AdmissionSettings {
  /** Each API key's rate and burst over all its routes (the usage plan). */
  api: Throttle;
  /** Each API key's rate and burst on `GET /payments/{orderId}` (a method throttle in the usage plan). */
  get: Throttle;
  /** Requests per second `POST /webhooks/stripe` admits, all senders together. */
  webhookRequestsPerSecond: number;
  /** Requests one IP may send per WAF_WINDOW_SECONDS before the web ACL (if any) blocks it. */
  wafRequestsPerIpPerMinute: number;
  /** The share of API requests X-Ray traces beyond one a second (unset: X-Ray's default rule, 5 %). */
  xraySamplingRate?: number;
}

/** The settings with their defaults, checked: throws naming the setting when a value cannot work. */
export function admissionSettingsOf(budget: StripeBudget, options: AdmissionOptions = {}): AdmissionSettings {
  const api = usagePlanThrottle('apiRequestsPerSecond', 'apiBurst', options.apiRequestsPerSecond ?? DEFAULT_API_REQUESTS_PER_SECOND, options.apiBurst);
  const get = usagePlanThrottle('getRequestsPerSecond', 'getBurst', options.getRequestsPerSecond ?? api.rateLimit * GET_SHARE_OF_KEY, options.getBurst);
  if (get.rateLimit > api.rateLimit) {
    throw new Error(`getRequestsPerSecond (${get.rateLimit}) cannot be above apiRequestsPerSecond (${api.rateLimit}): the key's own limit caps every route`);
  }
  const webhookRequestsPerSecond = options.webhookRequestsPerSecond ?? budget.webhook.rateLimit;
  assertPositive('webhookRequestsPerSecond', webhookRequestsPerSecond);
  // One IP may send all that the usage plan and the webhook throttle admit (a backend's NAT, Stripe's few senders), never more.
  const wafRequestsPerIpPerMinute = options.wafRequestsPerIpPerMinute ?? Math.ceil((api.rateLimit + webhookRequestsPerSecond) * WAF_WINDOW_SECONDS);
  if (!Number.isInteger(wafRequestsPerIpPerMinute) || wafRequestsPerIpPerMinute < WAF_MIN_LIMIT) {
    throw new Error(`wafRequestsPerIpPerMinute must be a whole number of at least ${WAF_MIN_LIMIT} (AWS WAF's least), not "${wafRequestsPerIpPerMinute}"`);
  }
  const { xraySamplingRate } = options;
  if (xraySamplingRate !== undefined && !(xraySamplingRate >= 0 && xraySamplingRate <= 1)) {
    throw new Error(`xraySamplingRate must be a share from 0 to 1 (0.05 traces 5 % of requests), not "${xraySamplingRate}"`);
  }
  return { api, get, webhookRequestsPerSecond, wafRequestsPerIpPerMinute, ...(xraySamplingRate !== undefined && { xraySamplingRate }) };
}

function usagePlanThrottle(rateName: string, burstName: string, rateLimit: number, burst: number | undefined): Throttle {
  assertPositive(rateName, rateLimit);
  const burstLimit = burst ?? Math.ceil(rateLimit * BURST_SECONDS);
  if (!Number.isInteger(burstLimit) || burstLimit < 1) throw new Error(`${burstName} must be a whole number of requests, at least 1, not "${burstLimit}"`);
  return { rateLimit, burstLimit };
}

function assertPositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of requests per second, not "${value}"`);
}

/** The usage plan's method throttles, per API key, by the function its route invokes. */
export function usagePlanMethodThrottles(settings: AdmissionSettings): Partial<Record<FunctionName, Throttle>> {
  return { getPayment: settings.get };
}

/**
 * The stage's method throttles, all clients together, by the function its route invokes: the sync
 * charge and refund routes at their Stripe shares, so their 429 comes from API Gateway before a
 * Lambda runs; the webhook, which no API key guards, well above Stripe's deliveries (Stripe retries
 * what is refused for three days), so a flood of unsigned requests cannot take the charge path's concurrency.
 */
export function stageMethodThrottles(budget: StripeBudget, settings: AdmissionSettings): Partial<Record<FunctionName, Throttle>> {
  return {
    chargePayment: budget.syncCharges,
    refundPayment: budget.refunds,
    stripeWebhook: throttleOf(settings.webhookRequestsPerSecond),
  };
}

/** A steady rate and a burst of one second of it (at least one request): stripe-budget.ts's throttleOf, which it does not export. */

/** How long the gateway asks a throttled or turned-away client to wait: a token bucket refills within a second. */
export const GATEWAY_RETRY_AFTER_SECONDS = 1;

/**
 * The functions that may reserve concurrency: the API's, the queue worker and the scheduled ones.
 * `reconciler`, `audit` and `eventsCatchUp` run on a schedule (or when an operator invokes one).
 */
export type ReservedFunction = FunctionName | 'chargeWorker' | 'reconciler' | 'audit' | 'eventsCatchUp';

/** Stripe answering three times slower than usual must not turn admitted charges into Lambda throttles. */
const SLOW_STRIPE_FACTOR = 3;
/** A charge or refund holds its invocation this long when Stripe is slow, never beyond the function's timeout. */
const SLOW_CHARGE_SECONDS = Math.min(SLOW_STRIPE_FACTOR * EXPECTED_CHARGE_SECONDS, CHARGE_FUNCTION_TIMEOUT_SECONDS);
/** A ledger read, or a webhook's conditional update (and a rare Stripe lookup), takes well under this. */
const SHORT_CALL_SECONDS = 0.5;
/** A scheduled run, plus one an operator starts by hand meanwhile. */
const SCHEDULED_RUNS = 2;

/**
 * The concurrency each function reserves with `-c reservedConcurrency=true`, by Little's law
 * (requests in flight = requests per second × seconds each): every function keeps room for what its
 * route or queue admits, and none can take another's. At the default budget (25 requests/s) and
 * settings: charge 10/s × 3 s = 30, refund 2.5/s × 3 s = 8, get 25/s × 0.5 s = 13, webhook its
 * throttle × 0.5 s, worker 2 (the queue's maximum concurrency), reconciler, catch-up and audit 2
 * each; Lambda keeps LAMBDA_UNRESERVED_MINIMUM of the account unreserved on top of their sum.
 */
export function reservedConcurrencyOf(budget: StripeBudget, settings: AdmissionSettings): Record<ReservedFunction, number> {
  const inFlight = (requestsPerSecond: number, seconds: number) => Math.max(1, Math.ceil(requestsPerSecond * seconds));
  return {
    chargePayment: inFlight(budget.syncCharges.rateLimit, SLOW_CHARGE_SECONDS),
    refundPayment: inFlight(budget.refunds.rateLimit, SLOW_CHARGE_SECONDS),
    getPayment: inFlight(settings.get.rateLimit, SHORT_CALL_SECONDS),
    stripeWebhook: inFlight(settings.webhookRequestsPerSecond, SHORT_CALL_SECONDS),
    // The event source never runs more than its maximum concurrency; fewer would throttle its own batches.
    chargeWorker: budget.worker.maxConcurrency,
    reconciler: SCHEDULED_RUNS,
    eventsCatchUp: SCHEDULED_RUNS,
    // The audit's slices run side by side up to its share of the read budget.
    audit: Math.max(SCHEDULED_RUNS, budget.audit.maxConcurrency),
  };
}

/** Lambda keeps this much of an account's concurrency unreserved: reservations beyond the limit minus this fail to deploy. */
export const LAMBDA_UNRESERVED_MINIMUM = 100;

/** The account concurrency limit these reservations need (Service Quotas: "Concurrent executions"). */
export const requiredAccountConcurrency = (reserved: Record<ReservedFunction, number>): number =>
  Object.values(reserved).reduce((sum, count) => sum + count, LAMBDA_UNRESERVED_MINIMUM);
