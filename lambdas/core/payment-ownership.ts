import { BEFORE_NAMESPACES, PAYMENT_METADATA } from '../contract/payment-metadata';

/**
 * The one rule for taking a Stripe object as ours, used by the day-old lookup, the webhooks and
 * every later reader: it must carry this service's marker and this deployment's namespace. Anything
 * else in the same Stripe account (another system, another deployment of this template) is not
 * ours, whatever orderId its metadata names.
 */
export interface StripePaymentView {
  metadata?: unknown;
  amount?: unknown;
  currency?: unknown;
}

/**
 * The orderId a PaymentIntent or Charge was made for, if it was made in this namespace (for
 * BEFORE_NAMESPACES: with the marker and no namespace at all); otherwise undefined.
 */
export function ownOrderId(namespace: string, payment: StripePaymentView): string | undefined {
  const metadata = metadataOf(payment);
  if (metadata[PAYMENT_METADATA.marker] !== PAYMENT_METADATA.markerValue) return undefined;
  const madeIn = metadata[PAYMENT_METADATA.namespace] ?? BEFORE_NAMESPACES;
  if (madeIn !== namespace) return undefined;
  const orderId = metadata[PAYMENT_METADATA.orderId];
  return typeof orderId === 'string' && orderId !== '' ? orderId : undefined;
}

/** True only for a payment this deployment made for exactly this order, amount and currency. */
export function isPaymentOf(namespace: string, payment: StripePaymentView, order: { orderId: string; amount: number; currency: string }): boolean {
  return ownOrderId(namespace, payment) === order.orderId && payment.amount === order.amount && payment.currency === order.currency;
}

/**
 * The namespace a Stripe object of this service was made in (BEFORE_NAMESPACES: the marker without
 * a namespace), whichever deployment made it; undefined when the object is not this service's.
 */
export function madeInNamespace(payment: StripePaymentView): string | undefined {
  const metadata = metadataOf(payment);
  if (metadata[PAYMENT_METADATA.marker] !== PAYMENT_METADATA.markerValue) return undefined;
  const namespace = metadata[PAYMENT_METADATA.namespace];
  return typeof namespace === 'string' ? namespace : BEFORE_NAMESPACES;
}

export function metadataOf({ metadata }: StripePaymentView): Record<string, unknown> {
  return typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {};
}
