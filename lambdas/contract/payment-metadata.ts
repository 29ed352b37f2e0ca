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
  /** On refunds only: the caller's refundId. */
  refundId: 'refundId',
} as const;

/**
 * A namespace: letters, digits, `.`, `_` and `-` (no `:` or `#`, which separate it from the orderId
 * in keys). Long enough for the AWS default, `<stack name>-<account>-<region>`.
 */
export const NAMESPACE_PATTERN = '^[A-Za-z0-9._-]{1,160}$';
/** `npm start`'s namespace with the embedded Stripe emulator, unless PAYMENTS_NAMESPACE says otherwise. */
export const LOCAL_NAMESPACE = 'local';
/**
 * The namespace of ledger records written before deployments had one: their PaymentIntents carry
 * the marker but no namespace, and their idempotency key is the bare orderId. A pending order of
 * that time is resumed, looked up and settled exactly as it was started.
 */
export const BEFORE_NAMESPACES = '';

/** Stripe refuses idempotency keys longer than this. */
const STRIPE_KEY_MAX_LENGTH = 255;

export function assertNamespace(namespace: string): string {
  if (!new RegExp(NAMESPACE_PATTERN).test(namespace)) {
    throw new Error(`the deployment namespace "${namespace}" must match ${NAMESPACE_PATTERN}`);
  }
  return namespace;
}

export function paymentMetadata(namespace: string, orderId: string): Record<string, string> {
  const scope: Record<string, string> = namespace === BEFORE_NAMESPACES ? {} : { [PAYMENT_METADATA.namespace]: namespace };
  return { [PAYMENT_METADATA.orderId]: orderId, [PAYMENT_METADATA.marker]: PAYMENT_METADATA.markerValue, ...scope };
}

/**
 * Stripe's idempotency key for an order: `<namespace>:<orderId>`. The orderId stays the identity of
 * the request; the namespace keeps two deployments on one Stripe account from replaying each
 * other's PaymentIntents. A key that would pass Stripe's 255 characters (a long orderId) is
 * `<namespace>#<SHA-256 of the orderId>`: `#` appears in no namespace and no orderId, so it can
 * never equal another order's key.
 */
export function stripeIdempotencyKey(namespace: string, orderId: string): string {
  if (namespace === BEFORE_NAMESPACES) return orderId;
  return withinStripeLimit(`${namespace}:${orderId}`, () => `${namespace}#${sha256(orderId)}`);
}

/**
 * Stripe's idempotency key for one refund of an order: `<namespace>:<orderId>#refund:<refundId>`,
 * or `<namespace>#refund#<SHA-256>` when that is too long. The `#` (in no orderId, refundId or
 * namespace) keeps it from ever equalling a charge's key, whatever orderId a caller picks.
 */
export function stripeRefundIdempotencyKey(namespace: string, orderId: string, refundId: string): string {
  const scope = namespace === BEFORE_NAMESPACES ? '' : `${namespace}:`;
  return withinStripeLimit(`${scope}${orderId}#refund:${refundId}`, () => `${namespace}#refund#${sha256(`${orderId}#${refundId}`)}`);
}

export function refundMetadata(namespace: string, orderId: string, refundId: string): Record<string, string> {
  return { ...paymentMetadata(namespace, orderId), [PAYMENT_METADATA.refundId]: refundId };
}

const withinStripeLimit = (key: string, hashed: () => string) => (key.length <= STRIPE_KEY_MAX_LENGTH ? key : hashed());
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
