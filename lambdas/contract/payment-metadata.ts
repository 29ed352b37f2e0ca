/**
 * The metadata this service puts on every PaymentIntent. Stripe copies it onto the Charge, and
 * webhooks for payments without the marker (made by anything else in the same Stripe account)
 * are ignored, even when they carry an `orderId`.
 */
export const PAYMENT_METADATA = {
  orderId: 'orderId',
  marker: 'createdBy',
  markerValue: 'exactly-once-payments',
} as const;

export function paymentMetadata(orderId: string): Record<string, string> {
  return { [PAYMENT_METADATA.orderId]: orderId, [PAYMENT_METADATA.marker]: PAYMENT_METADATA.markerValue };
}
