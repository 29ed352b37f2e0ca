import type { chargeRequestSchema } from './payment-request';
import type { refundRequestSchema } from './refund-request';

/**
 * What becomes of one field of a request. Stripe sees a retry's parameters under the same
 * idempotency key, so whatever is sent must be rebuilt, byte for byte, from what was stored.
 */
export type FieldUse =
  /** Stored on the ledger record and sent to Stripe as this parameter (a path into the create parameters). */
  | { sentToStripeAs: string }
  /** Never sent to Stripe; the text says what the service uses it for. */
  | { notSent: string }
  /**
   * Personal data (an e-mail, a name): never in the ledger, which keeps its records for ever. It is
   * kept in the key table for twice as long as Stripe keeps the idempotency key (48 h), and every
   * attempt sends it to Stripe as this parameter from there (core/stripe-requests.ts, adapters/personal-data.ts).
   */
  | { personal: true; sentToStripeAs: string };

type Classified<Schema extends { properties: object }> = Record<keyof Schema['properties'], FieldUse>;

/** Every field of POST /payments. A field added to the schema and not here fails the type check and a test that names it. */
export const chargeRequestFields = {
  orderId: { sentToStripeAs: `metadata.orderId` },
  amount: { sentToStripeAs: 'amount' },
  currency: { sentToStripeAs: 'currency' },
  paymentMethod: { sentToStripeAs: 'payment_method' },
  customerId: { sentToStripeAs: 'customer' },
  description: { sentToStripeAs: 'description' },
  receiptEmail: { personal: true, sentToStripeAs: 'receipt_email' },
} as const satisfies Classified<typeof chargeRequestSchema>;

/** The charge request's fields that are personal data. */
export type PersonalField = {
  [Field in keyof typeof chargeRequestFields]: (typeof chargeRequestFields)[Field] extends { personal: true } ? Field : never;
}[keyof typeof chargeRequestFields];
export const PERSONAL_FIELDS = Object.entries(chargeRequestFields).flatMap(([field, use]) => ('personal' in use ? [field as PersonalField] : []));

/** Every field of POST /payments/{orderId}/refunds (the orderId comes from the path). */
export const refundRequestFields = {
  refundId: { sentToStripeAs: 'metadata.refundId' },
  amount: { sentToStripeAs: 'amount' },
  reason: { sentToStripeAs: 'reason' },
} as const satisfies Classified<typeof refundRequestSchema>;

/** A parameter path as Stripe's errors name it: `metadata.orderId` is `metadata[orderId]`. */
const asStripeParam = (path: string) => path.replace(/\.([^.]+)/g, '[$1]');

/** Stripe's parameter names, as the request fields that carry them: an error about a parameter names the field the client sent. */
export const REQUEST_FIELD_OF_STRIPE_PARAMETER: Record<string, string> = Object.fromEntries(
  Object.entries(chargeRequestFields).flatMap(([field, use]) => ('sentToStripeAs' in use ? [[asStripeParam(use.sentToStripeAs), field]] : [])),
);
