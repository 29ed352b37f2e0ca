import type { RefundReason, RefundRequest } from '../contract/refund-request';
import { STRIPE_KEY_TRUSTED_FOR_MS } from '../contract/settings';
import { type LedgerRecord, type LedgerStatus, namespaceOf } from './charge-order';
import {
  OrderNotFoundError,
  OrderNotRefundableError,
  PaymentInProgressError,
  PaymentRejectedError,
  RefundConflictError,
  RefundExceedsPaymentError,
} from './errors';
import { factVersion } from './payment-events';

/**
 * Stripe's refund statuses, and `requested`: the amount is reserved in the ledger and Stripe was
 * (or is about to be) asked, but its answer is not recorded yet. A retry resumes it with the same key.
 */
export type RefundStatus = 'requested' | 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
export type StripeRefundStatus = Exclude<RefundStatus, 'requested'>;

/** Refunds whose amount is no longer refundable: they succeeded, or still may. */
const RESERVING: readonly RefundStatus[] = ['requested', 'pending', 'requires_action', 'succeeded'];
/** Within one second, a later stage of a refund wins over an earlier one. */
const STAGE: Record<RefundStatus, number> = { requested: 0, pending: 1, requires_action: 1, succeeded: 2, failed: 3, canceled: 3 };
/** Ledger states of an order whose money was taken: only these can be refunded (while anything is left). */
export const MONEY_TAKEN: readonly LedgerStatus[] = ['charged', 'partially_refunded', 'refunded'];
/** How often a refund write is tried again when another write to the order's refunds came first. */
const MAX_WRITE_CONFLICTS = 25;

/** One refund of an order, as the ledger keeps it (plain JSON). */
export interface RefundEntry {
  amount: number;
  /** What the caller asked for; absent when they asked for everything refundable. */
  requestedAmount?: number;
  reason?: RefundReason;
  status: RefundStatus;
  stripeRefundId?: string;
  /** Version of the newest Stripe fact about this refund: older facts never overwrite it. */
  factVersion?: string;
  createdAt: string;
  updatedAt: string;
}
export type Refunds = Record<string, RefundEntry>;

/** A refund's state at Stripe, from Stripe's answer, a lookup or an event. */
export interface RefundFact {
  stripeRefundId: string;
  status: StripeRefundStatus;
  /** Sortable as a string: a fact only replaces one with a smaller version. */
  version: string;
}

/** Stripe's answer to a refund request, or what a lookup found. */
export interface RefundAttempt {
  stripeRefundId: string;
  status: StripeRefundStatus;
  /** When Stripe created the refund (Unix seconds). */
  created: number;
}

/** Everything the Stripe refund request carries, rebuilt from the ledger alone (never from the HTTP request). */
export interface StripeRefundRequest {
  orderId: string;
  refundId: string;
  paymentId: string;
  amount: number;
  reason?: RefundReason;
}

export interface RefundProvider {
  /** Creates the refund, keyed on (namespace, orderId, refundId), with the marker and both ids in its metadata. */
  createRefund(request: StripeRefundRequest, namespace: string): Promise<RefundAttempt>;
  /** The refund this deployment made for (orderId, refundId) on the PaymentIntent, from a current listing; undefined if none. */
  findRefund(request: StripeRefundRequest, namespace: string): Promise<RefundAttempt | undefined>;
}

/** The record's refunds and everything derived from them, written together. */
export interface RefundState {
  refunds: Refunds;
  refundReserved: number;
  /** Succeeded refunds only. */
  amountRefunded: number;
  status: LedgerStatus;
  factVersion?: string;
}

export type RefundWrite = { written: true; record: LedgerRecord } | { written: false; current: LedgerRecord | undefined };

export interface RefundsLedger {
  /** The order's record (strongly consistent). */
  read(orderId: string): Promise<LedgerRecord | undefined>;
  /**
   * Writes the refund state if the record's refunds and status are still those of `seen` (one
   * conditional write); otherwise answers the record as it now is.
   */
  writeRefunds(seen: LedgerRecord, state: RefundState, now: string): Promise<RefundWrite>;
}

/** Plain JSON (no undefined, no Date): Powertools stores it as the idempotent response. */
export interface RefundResult {
  orderId: string;
  refundId: string;
  amount: number;
  currency: string;
  status: StripeRefundStatus;
  stripeRefundId: string | null;
  /** True when this call found the refund already finished and asked Stripe nothing. */
  replayed: boolean;
}

export interface RefundOrderDependencies {
  ledger: RefundsLedger;
  payments: RefundProvider;
  now?: () => Date;
}

/** What is still refundable: charged minus succeeded and in-flight refunds. */
export function refundableAmount(record: LedgerRecord): number {
  return MONEY_TAKEN.includes(record.status) ? record.amount - (record.refundReserved ?? 0) : 0;
}

/** The refund state that follows from a set of refunds: what is reserved, what is refunded, and the order's status. */
export function refundState(record: LedgerRecord, refunds: Refunds, now: Date): RefundState {
  const sum = (statuses: readonly RefundStatus[]) =>
    Object.values(refunds)
      .filter((refund) => statuses.includes(refund.status))
      .reduce((total, refund) => total + refund.amount, 0);
  const amountRefunded = sum(['succeeded']);
  const moneyTaken = MONEY_TAKEN.includes(record.status);
  const moneyStatus = amountRefunded === 0 ? 'charged' : amountRefunded >= record.amount ? 'refunded' : 'partially_refunded';
  const status: LedgerStatus = moneyTaken ? moneyStatus : record.status;
  // A refunded status is a fact about the payment too: a late, older payment event must not undo it.
  const changed = status !== record.status || amountRefunded !== (record.amountRefunded ?? 0);
  const ownVersion =
    changed && moneyTaken && moneyStatus !== 'charged' ? factVersion(Math.floor(now.getTime() / 1000), moneyStatus, amountRefunded) : undefined;
  const version = ownVersion !== undefined && (record.factVersion === undefined || ownVersion > record.factVersion) ? ownVersion : record.factVersion;
  return { refunds, refundReserved: sum(RESERVING), amountRefunded, status, ...(version !== undefined && { factVersion: version }) };
}

/** A refund fact's version: Stripe's time (seconds), the refund's stage, and the event id when an event states it. */
export function refundFactVersion(created: number, status: RefundStatus, eventId = ''): string {
  return [String(created).padStart(12, '0'), String(STAGE[status]).padStart(2, '0'), eventId].join('.');
}

/** The refunds with the fact applied to its refund, or undefined when the fact is not newer than what the entry holds. */
export function withRefundFact(refunds: Refunds, refundId: string, fact: RefundFact, now: string): Refunds | undefined {
  const entry = refunds[refundId];
  if (entry === undefined || (entry.factVersion !== undefined && entry.factVersion >= fact.version)) return undefined;
  return { ...refunds, [refundId]: { ...entry, status: fact.status, stripeRefundId: fact.stripeRefundId, factVersion: fact.version, updatedAt: now } };
}

/** What is sent to Stripe for a refund: rebuilt from the stored record, so a resume sends exactly what the first attempt sent. */
export function stripeRefundRequestOf(record: LedgerRecord, refundId: string): StripeRefundRequest {
  const entry = record.refunds?.[refundId];
  if (entry === undefined || record.paymentId === undefined) throw new Error(`order ${record.orderId} has no refund ${refundId} to send`);
  return { orderId: record.orderId, refundId, paymentId: record.paymentId, amount: entry.amount, ...(entry.reason !== undefined && { reason: entry.reason }) };
}

/**
 * Refunds an order at most once per refundId, and never more than was charged. The amount is
 * reserved in the ledger by a conditional write before Stripe is called, so concurrent refunds
 * can never together exceed the payment; Stripe refusing releases it, and a lost answer keeps it
 * for the retry, which asks Stripe again with the same idempotency key.
 */
export function createRefundOrder({ ledger, payments, now = () => new Date() }: RefundOrderDependencies) {
  /**
   * Applies `change` to the record's refunds and writes the result, reading again and retrying
   * when another write came first. `change` answers undefined when nothing is to be written.
   */
  async function updateRefunds(orderId: string, start: LedgerRecord | undefined, change: (record: LedgerRecord) => Refunds | undefined): Promise<LedgerRecord> {
    let record = start;
    for (let attempt = 0; attempt < MAX_WRITE_CONFLICTS; attempt += 1) {
      if (record === undefined) throw new OrderNotFoundError(orderId);
      const refunds = change(record);
      if (refunds === undefined) return record;
      const at = now();
      const write = await ledger.writeRefunds(record, refundState(record, refunds, at), at.toISOString());
      if (write.written) return write.record;
      record = write.current;
    }
    // The order's refunds keep changing under us: the client retries later, as for a charge in progress.
    throw new PaymentInProgressError();
  }

  /** Records Stripe's answer on the refund (unless a newer fact, e.g. a webhook, came first). */
  const recordAttempt = (record: LedgerRecord, refundId: string, attempt: RefundAttempt) =>
    updateRefunds(record.orderId, record, (current) =>
      withRefundFact(
        current.refunds ?? {},
        refundId,
        { stripeRefundId: attempt.stripeRefundId, status: attempt.status, version: refundFactVersion(attempt.created, attempt.status) },
        now().toISOString(),
      ),
    );

  return async function refundOrder(request: RefundRequest): Promise<RefundResult> {
    const { orderId, refundId } = request;
    let found: RefundEntry | undefined;
    const reserved = await updateRefunds(orderId, await ledger.read(orderId), (record) => {
      found = record.refunds?.[refundId];
      if (found !== undefined) {
        assertSameRefund(found, request);
        return undefined;
      }
      if (!MONEY_TAKEN.includes(record.status)) throw new OrderNotRefundableError(orderId, record.status);
      const refundable = refundableAmount(record);
      const amount = request.amount ?? refundable;
      if (amount < 1 || amount > refundable) throw new RefundExceedsPaymentError(orderId, refundable);
      const at = now().toISOString();
      const entry: RefundEntry = { amount, status: 'requested', createdAt: at, updatedAt: at };
      if (request.amount !== undefined) entry.requestedAmount = request.amount;
      if (request.reason !== undefined) entry.reason = request.reason;
      return { ...record.refunds, [refundId]: entry };
    });
    if (found !== undefined && found.status !== 'requested') return resultOf(reserved, refundId, true);

    const stripeRequest = stripeRefundRequestOf(reserved, refundId);
    const namespace = namespaceOf(reserved);
    const entry = reserved.refunds?.[refundId] as RefundEntry;
    // Stripe may have forgotten the key of a refund requested a day ago: look for it before asking again.
    if (now().getTime() - Date.parse(entry.createdAt) > STRIPE_KEY_TRUSTED_FOR_MS) {
      const earlier = await payments.findRefund(stripeRequest, namespace);
      if (earlier !== undefined) return resultOf(await recordAttempt(reserved, refundId, earlier), refundId, false);
    }
    let attempt: RefundAttempt;
    try {
      attempt = await payments.createRefund(stripeRequest, namespace);
    } catch (error) {
      // Stripe refused and refunded nothing: the amount is refundable again. A lost answer keeps it reserved.
      if (refusedByStripe(error)) await releaseReservation(reserved, refundId);
      throw error;
    }
    return resultOf(await recordAttempt(reserved, refundId, attempt), refundId, false);
  };

  async function releaseReservation(record: LedgerRecord, refundId: string): Promise<void> {
    await updateRefunds(record.orderId, record, (current) => {
      if (current.refunds?.[refundId]?.status !== 'requested') return undefined;
      const { [refundId]: _released, ...rest } = current.refunds;
      return rest;
    });
  }
}

export type RefundOrder = ReturnType<typeof createRefundOrder>;

/** Errors that mean Stripe refused the refund as asked and made none. */
function refusedByStripe(error: unknown): boolean {
  return error instanceof PaymentRejectedError || error instanceof RefundExceedsPaymentError || error instanceof OrderNotRefundableError;
}

function assertSameRefund(entry: RefundEntry, request: RefundRequest): void {
  const conflicting = [...(entry.requestedAmount !== request.amount ? ['amount'] : []), ...(entry.reason !== request.reason ? ['reason'] : [])];
  if (conflicting.length > 0) throw new RefundConflictError(request.orderId, request.refundId, conflicting);
}

function resultOf(record: LedgerRecord, refundId: string, replayed: boolean): RefundResult {
  const entry = record.refunds?.[refundId] as RefundEntry;
  return {
    orderId: record.orderId,
    refundId,
    amount: entry.amount,
    currency: record.currency,
    // Only an answered refund is a result; `requested` never leaves this module as one.
    status: entry.status as StripeRefundStatus,
    stripeRefundId: entry.stripeRefundId ?? null,
    replayed,
  };
}
