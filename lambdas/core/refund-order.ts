import { randomUUID } from 'node:crypto';
import type { RefundReason, RefundRequest } from '../contract/refund-request';
import { STRIPE_KEY_TRUSTED_FOR_MS } from '../contract/settings';
import { type LedgerRecord, type LedgerStatus, namespaceOf } from './charge-order';
import {
  OrderNotFoundError,
  OrderNotRefundableError,
  PaymentInProgressError,
  PaymentProviderError,
  PaymentRejectedError,
  RefundConflictError,
  RefundExceedsPaymentError,
} from './errors';
import { type FactOutcome, factVersion, type LedgerObserver, type RefundUpdate } from './payment-events';
import { type RefundCreate, refundCreateOf } from './stripe-requests';

/**
 * Stripe's refund statuses, and `requested`: the amount is reserved in the ledger and Stripe was
 * (or is about to be) asked, but its answer is not recorded yet. A retry resumes it with the same key.
 */
export type RefundStatus = 'requested' | 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
export type StripeRefundStatus = Exclude<RefundStatus, 'requested'>;

/** Refunds whose amount is no longer refundable: they succeeded, or still may. */
const RESERVING: readonly RefundStatus[] = ['requested', 'pending', 'requires_action', 'succeeded'];
/** Refunds whose outcome at Stripe is still open: the reconciler settles them if nothing else does. */
export const UNSETTLED: readonly RefundStatus[] = ['requested', 'pending', 'requires_action'];
/** Within one second, a later stage of a refund wins over an earlier one. */
const STAGE: Record<RefundStatus, number> = { requested: 0, pending: 1, requires_action: 1, succeeded: 2, failed: 3, canceled: 3 };
/** Ledger states of an order whose money was taken: only these can be refunded (while anything is left). */
const MONEY_TAKEN: readonly LedgerStatus[] = ['charged', 'partially_refunded', 'refunded'];
/**
 * How long a refund write keeps trying when other writes to the order's refunds come first, and the
 * longest pause between tries. Reserving may give up (409: nothing was asked of Stripe yet);
 * recording what Stripe did is given longer, and if even that runs out the reconciler records it.
 */
const RESERVE_PATIENCE_MS = 5_000;
const RECORD_PATIENCE_MS = 12_000;
const MAX_CONFLICT_PAUSE_MS = 250;
/**
 * The most refunds one order keeps. All of them live in the order's item, which DynamoDB caps at
 * 400 KB: at this many, each with a 255-character refundId, the item stays far below it, so a
 * refund Stripe made can always be recorded.
 */
export const MAX_REFUNDS_PER_ORDER = 100;

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
  /** While `requested`: the call now asking Stripe (see refundOrder). */
  attempt?: string;
  /** When the reconciler last found it still open at Stripe: it looks at the longest unlooked-at first. */
  checkedAt?: string;
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
  /** The PaymentIntent it refunds, and how much. */
  paymentId: string;
  amount: number;
  status: StripeRefundStatus;
  /** When Stripe created the refund (Unix seconds). */
  created: number;
}

export interface RefundProvider {
  /** Creates the refund, keyed on (namespace, orderId, refundId), with the marker and both ids in its metadata. */
  createRefund(create: RefundCreate): Promise<RefundAttempt>;
  /** The refund this deployment made for (orderId, refundId) on the PaymentIntent, from a current listing; undefined if none. */
  findRefund(create: RefundCreate): Promise<RefundAttempt | undefined>;
}

/** The record's refunds and everything derived from them, written together. */
export interface RefundState {
  refunds: Refunds;
  refundReserved: number;
  /** Succeeded refunds only. */
  amountRefunded: number;
  status: LedgerStatus;
  factVersion?: string;
  /** The oldest change of a refund not settled at Stripe yet, if any: the reconciler looks at it after the grace period. */
  unsettledSince?: string;
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
  /** A fresh, unique attempt id (tests may fix it). */
  newAttempt?: () => string;
}

/** Dispute states that leave the money with the merchant: a refund may go ahead. */
const DISPUTE_SETTLED_FOR_MERCHANT = ['won', 'warning_closed'];

/** Why the order cannot be refunded at all, if it cannot: never charged, or disputed (Stripe refuses those). */
function notRefundableBecause(record: LedgerRecord): string | undefined {
  if (!MONEY_TAKEN.includes(record.status)) return record.status;
  if (record.dispute !== undefined && !DISPUTE_SETTLED_FOR_MERCHANT.includes(record.dispute.status)) return `disputed (${record.dispute.status})`;
  return undefined;
}

/** What is still refundable: charged minus succeeded and in-flight refunds (or, on a record from before, what was refunded). */
function refundableAmount(record: LedgerRecord): number {
  if (notRefundableBecause(record) !== undefined) return 0;
  return record.amount - (record.refundReserved ?? record.amountRefunded ?? 0);
}

/** The refund state that follows from a set of refunds: what is reserved, what is refunded, and the order's status. */
function refundState(record: LedgerRecord, refunds: Refunds, now: Date): RefundState {
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
  const unsettledSince = Object.values(refunds)
    .filter((refund) => UNSETTLED.includes(refund.status))
    .map(lastLookedAt)
    .sort()[0];
  return {
    refunds,
    refundReserved: sum(RESERVING),
    amountRefunded,
    status,
    ...(version !== undefined && { factVersion: version }),
    ...(unsettledSince !== undefined && { unsettledSince }),
  };
}

/** When an open refund last changed, or was last found unchanged at Stripe: what the reconciler's grace counts from. */
export const lastLookedAt = (refund: RefundEntry): string => [refund.updatedAt, refund.checkedAt ?? ''].sort().at(-1) as string;

/** A refund fact's version: Stripe's time (seconds), the refund's stage, and the event id when an event states it. */
export function refundFactVersion(created: number, status: RefundStatus, eventId = ''): string {
  return [String(created).padStart(12, '0'), String(STAGE[status]).padStart(2, '0'), eventId].join('.');
}

/** The refunds with the fact applied to its refund, or undefined when the fact is not newer than what the entry holds. */
function withRefundFact(refunds: Refunds, refundId: string, fact: RefundFact, now: string): Refunds | undefined {
  const entry = refunds[refundId];
  if (entry === undefined || (entry.factVersion !== undefined && entry.factVersion >= fact.version)) return undefined;
  return { ...refunds, [refundId]: { ...entry, status: fact.status, stripeRefundId: fact.stripeRefundId, factVersion: fact.version, updatedAt: now } };
}

/**
 * Applies `change` to an order's refunds and writes the result, reading again and retrying when
 * another write came first. `change` answers undefined when nothing is to be written.
 */
export function refundUpdater(ledger: RefundsLedger, now: () => Date, observer?: LedgerObserver) {
  return async function updateRefunds(
    orderId: string,
    start: LedgerRecord | undefined,
    change: (record: LedgerRecord) => Refunds | undefined,
    patienceMs = RESERVE_PATIENCE_MS,
  ): Promise<LedgerRecord> {
    let record = start;
    const giveUpAt = Date.now() + patienceMs;
    for (let attempt = 0; attempt === 0 || Date.now() < giveUpAt; attempt += 1) {
      if (record === undefined) throw new OrderNotFoundError(orderId);
      const refunds = change(record);
      if (refunds === undefined) return record;
      const at = now();
      const write = await ledger.writeRefunds(record, refundState(record, refunds, at), at.toISOString());
      // Our own write, landed with its answer lost and refused when the SDK sent it again: written.
      const landed = !write.written && write.current?.refundsVersion === (record.refundsVersion ?? 0) + 1 && write.current.updatedAt === at.toISOString();
      if (write.written || landed) {
        const failed = newlyFailed(refundsOf(record), refunds);
        if (failed > 0) observer?.refundsFailed(failed);
        return write.written ? write.record : (write.current as LedgerRecord);
      }
      record = write.current;
      // Many writers of one order's refunds at once: spread their next tries out (full jitter).
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(MAX_CONFLICT_PAUSE_MS, 5 * 2 ** Math.min(attempt, 10))));
    }
    // The order's refunds keep changing under us: the caller retries later, as for a charge in progress.
    throw new PaymentInProgressError();
  };
}

/** Refunds Stripe will not make (any more): their amount is refundable again. */
const NOT_MADE: readonly RefundStatus[] = ['failed', 'canceled'];

/** How many refunds moved into `failed` or `canceled` from `before` to `after`. */
function newlyFailed(before: Refunds, after: Refunds): number {
  return Object.entries(after).filter(([key, refund]) => NOT_MADE.includes(refund.status) && !NOT_MADE.includes(before[key]?.status ?? 'requested')).length;
}

/**
 * The order's refunds. A record from before refunds were kept one by one may carry only the
 * amount a `charge.refunded` event reported: it stands as one succeeded refund, so nothing
 * already refunded is offered again.
 */
export function refundsOf(record: LedgerRecord): Refunds {
  if (record.refunds !== undefined || !record.amountRefunded) return record.refunds ?? {};
  const at = record.updatedAt;
  return { [EARLIER_REFUNDS_KEY]: { amount: record.amountRefunded, status: 'succeeded', createdAt: at, updatedAt: at } };
}
/** The key of what a record from before per-refund tracking had refunded (`#` is in no refundId). */
const EARLIER_REFUNDS_KEY = 'stripe#before-refunds-were-tracked';

/**
 * A refund made elsewhere before the record's earlier refunds were last reported is already in
 * them: applied again, it would count twice (the catch-up's first run reads three days back).
 */
function coveredByEarlierRefunds(record: LedgerRecord, update: RefundFactUpdate): boolean {
  const earlier = refundsOf(record)[EARLIER_REFUNDS_KEY];
  // Only a refund made elsewhere (keyed by Stripe's id, with a `#`): the API's own refunds came after.
  return earlier !== undefined && update.refundKey.includes('#') && update.created < Math.floor(Date.parse(earlier.createdAt) / 1000);
}

/** A refund's fact, placed on its order. */
export type RefundFactUpdate = RefundUpdate & { orderId: string };

/**
 * Writes a Stripe fact about one refund among the order's refunds: a refund it does not know yet
 * (one made in the Dashboard, or one of ours whose answer was lost) is added, a known one moves to
 * the fact's state if the fact is newer. Only on the record of the same namespace and PaymentIntent,
 * once its money is taken (before, the fact waits: the caller retries, as Stripe redelivers).
 */
export function createApplyRefundFact({ ledger, now = () => new Date(), observer }: { ledger: RefundsLedger; now?: () => Date; observer?: LedgerObserver }) {
  const updateRefunds = refundUpdater(ledger, now, observer);
  return async (update: RefundFactUpdate): Promise<FactOutcome> => {
    const record = await ledger.read(update.orderId);
    if (record === undefined) return 'unknown_order';
    let outcome: FactOutcome = 'applied';
    await updateRefunds(update.orderId, record, (current) => {
      if (namespaceOf(current) !== update.namespace) {
        outcome = 'other_namespace';
        return undefined;
      }
      if (current.paymentId !== undefined && current.paymentId !== update.paymentId) {
        outcome = 'conflict';
        return undefined;
      }
      // The payment's own fact has not arrived yet (pending, or a state it will leave): try again later.
      if (!MONEY_TAKEN.includes(current.status)) throw new PaymentInProgressError();
      if (coveredByEarlierRefunds(current, update)) {
        outcome = 'stale';
        return undefined;
      }
      const applied = withRefundOf(refundsOf(current), update.refundKey, update.amount, update.fact, now().toISOString());
      outcome = applied.outcome;
      return applied.refunds;
    });
    return outcome;
  };
}

/**
 * One refund's fact among an order's refunds: a refund not known yet (made in the Dashboard, or
 * ours whose entry is gone) is added as Stripe has it; a known one takes the fact if it is newer.
 * Another amount or Stripe id than the entry's is a conflict, and changes nothing.
 */
export function withRefundOf(refunds: Refunds, key: string, amount: number, fact: RefundFact, at: string): { refunds?: Refunds; outcome: FactOutcome } {
  const known = refunds[key];
  if (known === undefined) {
    const { stripeRefundId, status, version } = fact;
    return { refunds: { ...refunds, [key]: { amount, status, stripeRefundId, factVersion: version, createdAt: at, updatedAt: at } }, outcome: 'applied' };
  }
  if (known.amount !== amount || (known.stripeRefundId !== undefined && known.stripeRefundId !== fact.stripeRefundId)) return { outcome: 'conflict' };
  const next = withRefundFact(refunds, key, fact, at);
  return { refunds: next, outcome: next === undefined ? 'stale' : 'applied' };
}

/**
 * Refunds an order at most once per refundId, and never more than was charged. The amount is
 * reserved in the ledger by a conditional write before Stripe is called, so concurrent refunds
 * can never together exceed the payment; Stripe refusing releases it, and a lost answer keeps it
 * for the retry, which asks Stripe again with the same idempotency key.
 */
export function createRefundOrder({ ledger, payments, now = () => new Date(), newAttempt = randomUUID }: RefundOrderDependencies) {
  const updateRefunds = refundUpdater(ledger, now);

  /** Records Stripe's answer on the refund (unless a newer fact, e.g. a webhook, came first). */
  const recordAttempt = (record: LedgerRecord, refundId: string, answer: RefundAttempt) =>
    updateRefunds(
      record.orderId,
      record,
      (current) => {
        const fact = { stripeRefundId: answer.stripeRefundId, status: answer.status, version: refundFactVersion(answer.created, answer.status) };
        return withRefundOf(refundsOf(current), refundId, answer.amount, fact, now().toISOString()).refunds;
      },
      RECORD_PATIENCE_MS,
    );

  return async function refundOrder(request: RefundRequest): Promise<RefundResult> {
    const { orderId, refundId } = request;
    // Each call that asks Stripe first writes its own attempt on the entry: only the latest attempt
    // may release the reservation, so a refusal never frees what a resumed call is still asking for.
    const attempt = newAttempt();
    let answered: RefundEntry | undefined;
    const reserved = await updateRefunds(orderId, await ledger.read(orderId), (record) => {
      const refunds = refundsOf(record);
      const found = refunds[refundId];
      const at = now().toISOString();
      if (found !== undefined) {
        assertSameRefund(found, request);
        if (found.status !== 'requested') {
          answered = found;
          return undefined;
        }
        return { ...refunds, [refundId]: { ...found, attempt, updatedAt: at } };
      }
      answered = undefined;
      const blocker =
        notRefundableBecause(record) ?? (Object.keys(refunds).length >= MAX_REFUNDS_PER_ORDER ? `it has ${MAX_REFUNDS_PER_ORDER} refunds already` : undefined);
      if (blocker !== undefined) throw new OrderNotRefundableError(orderId, blocker);
      const refundable = refundableAmount(record);
      const amount = request.amount ?? refundable;
      if (amount < 1 || amount > refundable) throw new RefundExceedsPaymentError(orderId, refundable);
      const entry: RefundEntry = { amount, status: 'requested', attempt, createdAt: at, updatedAt: at };
      if (request.amount !== undefined) entry.requestedAmount = request.amount;
      if (request.reason !== undefined) entry.reason = request.reason;
      return { ...refunds, [refundId]: entry };
    });
    if (answered !== undefined) return resultOf(reserved, refundId, true);

    // What is sent to Stripe comes from the stored entry, the first time and on every resume.
    const create = refundCreateOf(reserved, refundId);
    const entry = reserved.refunds?.[refundId] as RefundEntry;
    // Stripe may have forgotten the key of a refund requested a day ago: look for it before asking again.
    if (now().getTime() - Date.parse(entry.createdAt) > STRIPE_KEY_TRUSTED_FOR_MS) {
      const earlier = await payments.findRefund(create);
      if (earlier !== undefined) return resultOf(await recordAttempt(reserved, refundId, earlier), refundId, false);
    }
    let answer: RefundAttempt;
    try {
      answer = await payments.createRefund(create);
    } catch (error) {
      // Stripe refused and refunded nothing: the amount is refundable again. A lost answer keeps it reserved.
      if (refusedByStripe(error)) await releaseReservation(reserved, refundId, attempt);
      throw error;
    }
    // Only a refund of this very request is recorded: anything else under our key is not ours to believe.
    if (answer.paymentId !== create.params.payment_intent || answer.amount !== create.params.amount) {
      throw new PaymentProviderError('the payment provider answered with another refund than the one asked for', false);
    }
    return resultOf(await recordAttempt(reserved, refundId, answer), refundId, false);
  };

  async function releaseReservation(record: LedgerRecord, refundId: string, attempt: string): Promise<void> {
    await updateRefunds(record.orderId, record, (current) => {
      const { [refundId]: released, ...rest } = refundsOf(current);
      return released?.status === 'requested' && released.attempt === attempt ? rest : undefined;
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
