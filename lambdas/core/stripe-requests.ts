import { paymentMetadata, refundMetadata, stripeIdempotencyKey, stripeRefundIdempotencyKey } from '../contract/payment-metadata';
import type { ChargeRequest } from '../contract/payment-request';
import type { RefundReason } from '../contract/refund-request';
import { PERSONAL_FIELDS, type PersonalField } from '../contract/request-fields';
import { type LedgerRecord, namespaceOf } from './charge-order';

/**
 * Every Stripe create request the service sends, built here from the stored record alone. The first
 * attempt and every resume call the same function with the same stored record, so Stripe always
 * sees the same parameters under the same idempotency key (a field sent but not stored would make
 * the retry after a lost answer `idempotency_key_reused`). What each request field becomes is
 * classified in lambdas/contract/request-fields.ts; personal data is stored in the key table, not the
 * ledger, and passed in beside the record. Plain objects in Stripe's own parameter names:
 * the adapter hands them to the SDK as they are, and the type check holds them to the SDK's types.
 */
export interface StripeCreate<Params> {
  orderId: string;
  /** The namespace of the stored record: the one its first request was made in. */
  namespace: string;
  params: Params;
  idempotencyKey: string;
}

export interface PaymentIntentCreateParams {
  amount: number;
  currency: string;
  customer?: string;
  description?: string;
  payment_method?: string;
  receipt_email?: string;
  /** Without a payment method the customer confirms later (Stripe.js); with one, charge now. */
  confirm: boolean;
  /** A server-side charge cannot follow a redirect, so only methods that need none (Stripe refuses a server-side confirm without `return_url` otherwise). */
  automatic_payment_methods: { enabled: true; allow_redirects: 'never' };
  metadata: Record<string, string>;
}

export interface RefundCreateParams {
  payment_intent: string;
  amount: number;
  reason?: RefundReason;
  metadata: Record<string, string>;
}

export type PaymentIntentCreate = StripeCreate<PaymentIntentCreateParams>;

/** An order's personal data, as the key table keeps it while Stripe may hold the order's key. */
export type PersonalData = Partial<Pick<ChargeRequest, PersonalField>>;

/** The order's personal data, from its request (empty when it has none). */
export function personalDataOf(order: ChargeRequest): PersonalData {
  return Object.fromEntries(PERSONAL_FIELDS.flatMap((field) => (order[field] === undefined ? [] : [[field, order[field]]])));
}
export type RefundCreate = StripeCreate<RefundCreateParams> & { refundId: string };

/** The order's PaymentIntent, from its ledger record and its kept personal data. Absent fields are left out, not sent as empty. */
export function paymentIntentCreateOf(record: LedgerRecord, personal: PersonalData = {}): PaymentIntentCreate {
  const namespace = namespaceOf(record);
  return {
    orderId: record.orderId,
    namespace,
    params: {
      amount: record.amount,
      currency: record.currency,
      ...(record.customerId !== undefined && { customer: record.customerId }),
      // An empty one, stored before empty meant none, is left out: Stripe refused it and kept no key.
      ...(record.description && { description: record.description }),
      ...(record.paymentMethod !== undefined && { payment_method: record.paymentMethod }),
      ...(personal.receiptEmail !== undefined && { receipt_email: personal.receiptEmail }),
      confirm: record.paymentMethod !== undefined,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: paymentMetadata(namespace, record.orderId),
    },
    idempotencyKey: stripeIdempotencyKey(namespace, record.orderId),
  };
}

/** One refund of the order, from its entry in the ledger record (the amount reserved, not the one asked for). */
export function refundCreateOf(record: LedgerRecord, refundId: string): RefundCreate {
  const entry = record.refunds?.[refundId];
  if (entry === undefined || record.paymentId === undefined) throw new Error(`order ${record.orderId} has no refund ${refundId} to send`);
  const namespace = namespaceOf(record);
  return {
    orderId: record.orderId,
    refundId,
    namespace,
    params: {
      payment_intent: record.paymentId,
      amount: entry.amount,
      ...(entry.reason !== undefined && { reason: entry.reason }),
      metadata: refundMetadata(namespace, record.orderId, refundId),
    },
    idempotencyKey: stripeRefundIdempotencyKey(namespace, record.orderId, refundId),
  };
}
