/**
 * Timing and retention settings that both the stack and the runtime depend on.
 * The Lambda timeout is the sum of the worst case of every remote call a charge makes, so a slow
 * dependency can never outlive the function (which would leave the client without an answer).
 */
export const STRIPE_TIMEOUT_MS = 4_000;
export const STRIPE_MAX_NETWORK_RETRIES = 2;
/** stripe-node sleeps at most 0.5 s × 2^(n-1) before its n-th retry (capped at 5 s), and never less than 0.5 s. */
const stripeBackoffMs = (retry: number) => Math.min(500 * 2 ** (retry - 1), 5_000);
const STRIPE_CREATE_WORST_CASE_MS =
  STRIPE_TIMEOUT_MS * (STRIPE_MAX_NETWORK_RETRIES + 1) +
  Array.from({ length: STRIPE_MAX_NETWORK_RETRIES }, (_, n) => stripeBackoffMs(n + 1)).reduce((sum, ms) => sum + ms, 0);
/** The metadata lookup (only for an order pending for a day) makes one short attempt, without the SDK's retries. */
export const STRIPE_LOOKUP_TIMEOUT_MS = 1_500;
/**
 * stripe-node retries a reset connection once even with `maxNetworkRetries: 0` (a stale keep-alive
 * socket after a frozen Lambda), so the lookup's worst case is two attempts and a backoff.
 */
const STRIPE_LOOKUP_WORST_CASE_MS = 2 * STRIPE_LOOKUP_TIMEOUT_MS + stripeBackoffMs(1);
/** One create, with the SDK's retries, plus the lookup. */
export const STRIPE_WORST_CASE_MS = STRIPE_CREATE_WORST_CASE_MS + STRIPE_LOOKUP_WORST_CASE_MS;

/** AWS calls fail fast: a DynamoDB request answers in milliseconds, so 500 ms (connecting included) means it is in trouble. */
export const AWS_REQUEST_TIMEOUT_MS = 500;
export const AWS_MAX_ATTEMPTS = 2;
/** The pause before the retry, throttled or not. */
export const AWS_RETRY_DELAY_MS = 100;
const AWS_CALL_WORST_CASE_MS = AWS_MAX_ATTEMPTS * AWS_REQUEST_TIMEOUT_MS + (AWS_MAX_ATTEMPTS - 1) * AWS_RETRY_DELAY_MS;
/**
 * The most AWS calls one charge makes: claim key, ledger create, mark the attempt (a resumed
 * order), keep its personal data (an order that has some), the Stripe key from Secrets Manager,
 * ledger finalize, complete key; or, when Stripe refuses, release the record, drop the key and (in
 * the worker) a dead-letter send instead of the last two.
 */
const AWS_CALLS_PER_CHARGE = 8;
export const CHARGE_WORST_CASE_MS = STRIPE_WORST_CASE_MS + AWS_CALLS_PER_CHARGE * AWS_CALL_WORST_CASE_MS;

/**
 * API Gateway REST integrations time out at 29 s, and a cold start's init counts against that but
 * not against the function's timeout: the function must answer at least this much earlier.
 */
export const API_INTEGRATION_TIMEOUT_SECONDS = 29;
export const COLD_START_ROOM_SECONDS = 2;
/** The worst case (25.8 s) rounded up, plus a second for our own code: 27 s. */
export const CHARGE_FUNCTION_TIMEOUT_SECONDS = Math.ceil(CHARGE_WORST_CASE_MS / 1000) + 1;

/** Stripe keeps an idempotency key for at least 24 h; our key records live exactly as long. */
export const IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60;
/**
 * How long an order's personal data stays in the key table: twice Stripe's key, so a resume never
 * sends other parameters under a key Stripe still holds ("at least 24 h"); never read once the
 * order is final.
 */
export const PERSONAL_DATA_EXPIRY_SECONDS = 2 * IDEMPOTENCY_EXPIRY_SECONDS;
/**
 * How long a pending order may rely on Stripe's idempotency key alone. Past this (an hour before
 * Stripe may forget the key), the PaymentIntent is first looked up by the orderId in its metadata.
 */
export const STRIPE_KEY_TRUSTED_FOR_MS = 23 * 60 * 60 * 1000;
/** Stable across renames and identical locally and in AWS (the default is the function name). */
export const IDEMPOTENCY_KEY_PREFIX = 'chargeOrder';
/** The refunds' keys in the same table, apart from the charges'. */
export const REFUND_IDEMPOTENCY_KEY_PREFIX = 'refundOrder';
/** Seconds a client is told to wait when the same order is still being charged. */
export const RETRY_AFTER_SECONDS = 2;
/**
 * Seconds a client is told to wait when Stripe rate limited its request: Stripe counts its limits
 * per second, so a few seconds lets the window pass without every client returning in the next one.
 */
export const RATE_LIMITED_RETRY_AFTER_SECONDS = 3;
/** Secrets are re-read at most this often, so a rotated Stripe key is picked up without a deploy. */
export const SECRET_CACHE_SECONDS = 300;

/** Stripe retries a webhook for up to three days; a processed event id is remembered for four. */
export const WEBHOOK_EVENT_EXPIRY_SECONDS = 4 * 24 * 60 * 60;
/** Key prefix of processed webhook events in the key table, apart from the charges' keys. */
export const WEBHOOK_EVENT_KEY_PREFIX = 'stripeEvent';
/** How old a signed webhook may be, in seconds (Stripe's own default), against replayed deliveries. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * How long a record may stay `pending` before the reconciler settles it from Stripe's side: well
 * past any charge's worst case (the function timeout), and past Stripe's search lag (a new
 * PaymentIntent can take about a minute to be found), so "not found" means "never made".
 */
export const PENDING_GRACE_SECONDS = 10 * 60;
/** How often the reconciler runs in AWS; `npm start` runs it every RECONCILE_INTERVAL_SECONDS (default 60). */
export const RECONCILE_INTERVAL_MINUTES = 5;
export const LOCAL_RECONCILE_INTERVAL_SECONDS = 60;
/**
 * The reconciler stops taking new records when its function has less time left than this: the
 * records already started still finish, each up to a search and 10 listing pages paced by its
 * budget (at worst about 13 s at the default one), and their writes.
 */
export const RECONCILE_STOP_MARGIN_MS = 30_000;
/** The pending orders stop this much earlier still: open refunds, settled after them, get at least this much of every run. */
export const RECONCILE_REFUNDS_MIN_MS = 60_000;
export const RECONCILER_TIMEOUT_SECONDS = 4 * 60;

/** How often the Events API catch-up runs in AWS; `npm start` runs it every EVENTS_CATCH_UP_INTERVAL_SECONDS (default 60). */
export const EVENTS_CATCH_UP_INTERVAL_MINUTES = 5;
export const LOCAL_EVENTS_CATCH_UP_INTERVAL_SECONDS = 60;
export const EVENTS_CATCH_UP_TIMEOUT_SECONDS = 4 * 60;
/** The catch-up's checkpoint lives in the key table under this key (no TTL), apart from every idempotency record. */
export const EVENTS_CATCH_UP_CHECKPOINT_KEY = 'eventsCatchUp#checkpoint';

/** The audit compares the last day by default, and runs daily in AWS. */
export const AUDIT_DEFAULT_WINDOW = '24h';
/**
 * What the daily run compares: two days and an hour, so each run covers the day before again (a
 * run that failed, and is not retried, leaves no day unaudited), leaving out the last half hour,
 * past the reconciler's grace and interval, so that an order still being settled is neither
 * missed nor taken for a difference.
 */
export const DAILY_AUDIT_WINDOW = { since: '49h', settledFor: '30m' } as const;

/**
 * Stack names: a sandbox's name ends in `Sandbox` and a retained stack's does not, so `npm run
 * deploy` (a sandbox) can never turn a retained stack's tables into ones deleted with it, nor
 * `npm run destroy` delete them.
 */
export const SANDBOX_SUFFIX = 'Sandbox';
export const STACK_NAMES = { retained: 'ExactlyOncePayments', sandbox: `ExactlyOncePayments${SANDBOX_SUFFIX}` } as const;
