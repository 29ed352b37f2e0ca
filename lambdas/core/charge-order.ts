import { PAYMENT_IDENTITY_FIELDS, type ChargeRequest } from '../contract/payment-request';
import { OrderConflictError } from './errors';

/**
 * Ledger states. `pending` is written before Stripe is called, so a crash between the charge and
 * the ledger update leaves a visible trace; the retry finishes it with the same Stripe key.
 */
export type LedgerStatus = 'pending' | 'charged' | 'requires_action' | 'declined';
export type FinalStatus = Exclude<LedgerStatus, 'pending'>;

export interface LedgerRecord {
  orderId: string;
  status: LedgerStatus;
  amount: number;
  currency: string;
  paymentMethod?: string;
  customerId?: string;
  paymentId?: string;
  /** Stripe's PaymentIntent status, e.g. `succeeded`. */
  paymentStatus?: string;
  declineCode?: string;
  createdAt: string;
  updatedAt: string;
}

/** What Stripe said about the order's PaymentIntent. */
export interface PaymentAttempt {
  status: FinalStatus;
  paymentId?: string;
  paymentStatus?: string;
  declineCode?: string;
}

export interface PaymentsLedger {
  /**
   * Creates the order's `pending` record unless the order exists (one conditional write).
   * Returns the existing record, or undefined when this call created it.
   */
  createPendingOrGet(order: ChargeRequest, now: string): Promise<LedgerRecord | undefined>;
  /** Moves a pending record to its final status; returns the stored record (someone else's if they won). */
  finalize(orderId: string, attempt: PaymentAttempt, now: string): Promise<LedgerRecord>;
}

export interface PaymentProvider {
  /** Creates (and, with a payment method, confirms) the order's PaymentIntent, keyed on orderId. */
  createPayment(order: ChargeRequest): Promise<PaymentAttempt>;
}

/** Plain JSON (no undefined, no Date): Powertools stores it as the idempotent response. */
export interface ChargeResult {
  orderId: string;
  status: FinalStatus;
  amount: number;
  currency: string;
  paymentId: string | null;
  paymentStatus: string | null;
  declineCode: string | null;
  /** True when this call found the order already finished and charged nothing. */
  replayed: boolean;
}

export interface ChargeOrderDependencies {
  ledger: PaymentsLedger;
  payments: PaymentProvider;
  now?: () => Date;
}

/**
 * Charges an order at most once. Safe to call any number of times, concurrently or after a crash:
 * the ledger check stops a second charge once the order is final, and Stripe's idempotency key
 * (the orderId) returns the same PaymentIntent for a retry that lands before it is.
 */
export function createChargeOrder({ ledger, payments, now = () => new Date() }: ChargeOrderDependencies) {
  return async function chargeOrder(order: ChargeRequest): Promise<ChargeResult> {
    const existing = await ledger.createPendingOrGet(order, now().toISOString());
    if (existing !== undefined) {
      assertSamePayment(existing, order);
      if (existing.status !== 'pending') return toChargeResult(existing, true);
    }
    const attempt = await payments.createPayment(order);
    const record = await ledger.finalize(order.orderId, attempt, now().toISOString());
    return toChargeResult(record, false);
  };
}

export type ChargeOrder = ReturnType<typeof createChargeOrder>;

function assertSamePayment(record: LedgerRecord, order: ChargeRequest): void {
  const conflicting = PAYMENT_IDENTITY_FIELDS.filter((field) => record[field] !== order[field]);
  if (conflicting.length > 0) throw new OrderConflictError(order.orderId, conflicting);
}

function toChargeResult(record: LedgerRecord, replayed: boolean): ChargeResult {
  return {
    orderId: record.orderId,
    status: record.status as FinalStatus,
    amount: record.amount,
    currency: record.currency,
    paymentId: record.paymentId ?? null,
    paymentStatus: record.paymentStatus ?? null,
    declineCode: record.declineCode ?? null,
    replayed,
  };
}
