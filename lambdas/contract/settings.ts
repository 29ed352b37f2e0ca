/**
 * Timing and retention settings that both the stack and the runtime depend on.
 * The Lambda timeout is derived from the Stripe client's own budget so a slow Stripe
 * answer can never outlive the function (which would leave the charge's fate unknown).
 */
export const STRIPE_TIMEOUT_MS = 6_000;
export const STRIPE_MAX_NETWORK_RETRIES = 2;
/** stripe-node sleeps at most 0.5 s × 2^(n-1) before its n-th retry (capped at 5 s). */
const STRIPE_BACKOFF_MS = Array.from({ length: STRIPE_MAX_NETWORK_RETRIES }, (_, n) => Math.min(500 * 2 ** n, 5_000));
export const STRIPE_WORST_CASE_MS =
  STRIPE_TIMEOUT_MS * (STRIPE_MAX_NETWORK_RETRIES + 1) + STRIPE_BACKOFF_MS.reduce((sum, ms) => sum + ms, 0);
/** Headroom for the DynamoDB calls around the Stripe call. */
const STORE_HEADROOM_MS = 5_000;
/** API Gateway REST integrations time out at 29 s; the Lambda must answer before that. */
export const API_INTEGRATION_TIMEOUT_SECONDS = 29;
export const CHARGE_FUNCTION_TIMEOUT_SECONDS = Math.ceil((STRIPE_WORST_CASE_MS + STORE_HEADROOM_MS) / 1000);

/** Stripe keeps an idempotency key for at least 24 h; our key records live exactly as long. */
export const IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60;
/** Stable across renames and identical locally and in AWS (the default is the function name). */
export const IDEMPOTENCY_KEY_PREFIX = 'chargeOrder';
/** Seconds a client is told to wait when the same order is still being charged. */
export const RETRY_AFTER_SECONDS = 2;
/** Secrets are re-read at most this often, so a rotated Stripe key is picked up without a deploy. */
export const SECRET_CACHE_SECONDS = 300;
