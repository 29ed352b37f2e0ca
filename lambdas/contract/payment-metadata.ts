import { createHash } from 'node:crypto';

/**
 * How this service marks what it creates at Stripe. Several deployments (a sandbox, staging, a
 * colleague's stack) may share one Stripe account, so every PaymentIntent carries the deployment's
 * namespace beside the service marker, and Stripe's idempotency key is scoped by the namespace.
 * Stripe copies the metadata onto the Charge.
 */
export const PAYMENT_METADATA = {
  orderId: 'orderId',
  marker: 'createdBy',
  markerValue: 'exactly-once-payments',
  namespace: 'namespace',
} as const;

/** A namespace: letters, digits, `.`, `_` and `-` (no `:`, which separates it from the orderId in keys). */
export const NAMESPACE_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
/** `npm start`'s namespace unless PAYMENTS_NAMESPACE says otherwise; in AWS it is the stack name. */
export const LOCAL_NAMESPACE = 'local';

/** Stripe refuses idempotency keys longer than this. */
const STRIPE_KEY_MAX_LENGTH = 255;

export function assertNamespace(namespace: string): string {
  if (!new RegExp(NAMESPACE_PATTERN).test(namespace)) {
    throw new Error(`the deployment namespace "${namespace}" must match ${NAMESPACE_PATTERN}`);
  }
  return namespace;
}

export function paymentMetadata(namespace: string, orderId: string): Record<string, string> {
  return {
    [PAYMENT_METADATA.orderId]: orderId,
    [PAYMENT_METADATA.marker]: PAYMENT_METADATA.markerValue,
    [PAYMENT_METADATA.namespace]: namespace,
  };
}

/**
 * Stripe's idempotency key for an order: `<namespace>:<orderId>`. The orderId stays the identity of
 * the request; the namespace keeps two deployments on one Stripe account from replaying each
 * other's PaymentIntents. A key that would pass Stripe's 255 characters (a long orderId) uses the
 * orderId's SHA-256 instead, which is just as unique and as stable.
 */
export function stripeIdempotencyKey(namespace: string, orderId: string): string {
  const key = `${namespace}:${orderId}`;
  if (key.length <= STRIPE_KEY_MAX_LENGTH) return key;
  return `${namespace}:sha256:${createHash('sha256').update(orderId).digest('hex')}`;
}
