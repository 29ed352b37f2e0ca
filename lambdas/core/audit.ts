import { type LedgerRecord, type LedgerStatus, namespaceOf, type PaymentOutcome } from './charge-order';
import type { PendingRecord } from './reconcile-pending';
import { refundsOf } from './refund-order';

/** A PaymentIntent of this deployment, as the audit compares it with the ledger. */
export interface StripePayment {
  paymentId: string;
  orderId: string;
  amount: number;
  currency: string;
  outcome: PaymentOutcome;
  /** Unix seconds. */
  created: number;
  /** What Stripe counts as refunded on the payment's charge (pending refunds included), minor units. */
  refunded: number;
  /** The status of the charge's dispute, if there is one. */
  dispute?: string;
}

export type DiscrepancyKind =
  /** Stripe has a PaymentIntent of ours for an order the ledger has no record of. */
  | 'payment_without_record'
  /** The record names another PaymentIntent, or none, although Stripe has this one for the order (two PaymentIntents for one order land here). */
  | 'other_payment'
  | 'amount'
  | 'currency'
  /** The record's state is not what the PaymentIntent's state means. */
  | 'state'
  /** The refunds the record holds (pending ones included) do not add up to what Stripe refunded. */
  | 'refunded'
  /** The record's dispute (or none) is not Stripe's. */
  | 'dispute'
  /** The record names a PaymentIntent that Stripe does not have (or that is not ours). */
  | 'payment_missing_at_stripe'
  /** The record names a PaymentIntent of ours that Stripe made for another order. */
  | 'payment_of_another_order';

export interface Discrepancy {
  kind: DiscrepancyKind;
  orderId: string;
  paymentId?: string;
  /** What the ledger says, and what Stripe says, for the field in question. */
  ledger?: string;
  stripe?: string;
}

export interface AuditReport {
  since: string;
  until: string;
  /** This deployment's PaymentIntents created in the window. */
  paymentsAtStripe: number;
  /** Ledger records of orders created in the window. */
  ledgerRecords: number;
  discrepancies: Discrepancy[];
}

export interface AuditDependencies {
  /** This deployment's PaymentIntents created in [since, until). */
  paymentsCreatedBetween(since: Date, until: Date): AsyncIterable<StripePayment>;
  /** The ledger records of orders created in [since, until). */
  recordsCreatedBetween(since: Date, until: Date): AsyncIterable<LedgerRecord>;
  readRecord(orderId: string): Promise<LedgerRecord | undefined>;
  /** One PaymentIntent by id, if Stripe has it and it is this deployment's. */
  readPayment(paymentId: string, namespace: string): Promise<StripePayment | undefined>;
  /**
   * A record still pending within this many seconds of its latest attempt is in flight, not a
   * discrepancy: the reconciler's grace plus its interval, the longest it may take to settle one.
   */
  inFlightSeconds: number;
  now?: () => Date;
}

/** The ledger states that agree with a PaymentIntent's outcome (money taken may since have been refunded). */
const AGREEING_STATES: Record<PaymentOutcome, readonly LedgerStatus[]> = {
  charged: ['charged', 'partially_refunded', 'refunded'],
  declined: ['declined'],
  requires_action: ['requires_action'],
  canceled: ['canceled'],
};

/** The refund states Stripe counts in a charge's `amount_refunded`: every refund it has not seen fail. */
const STRIPE_COUNTS_AS_REFUNDED: readonly string[] = ['pending', 'requires_action', 'succeeded'];

/**
 * Compares Stripe with the ledger over one time slice of a window (see sliceStarts), from both sides: every PaymentIntent of this
 * deployment must have its order's record agreeing on the PaymentIntent, amount, currency, state,
 * the money refunded and the dispute; every record that names a PaymentIntent must name one Stripe
 * has, made for that order. Reads only. It holds the slice's records (and the ids of the
 * PaymentIntents it listed), never more: an item whose counterpart lies in the next slice (our
 * createdAt and Stripe's created are stamped on two clocks) is looked up by id instead, so it is
 * compared in both slices, and the verdict reports the difference once.
 */
export function createAudit({
  paymentsCreatedBetween,
  recordsCreatedBetween,
  readRecord,
  readPayment,
  inFlightSeconds,
  now = () => new Date(),
}: AuditDependencies) {
  /** Compares the orders created in [since, until) (until: now by default): one slice. */
  return async function audit(since: Date, until: Date = now()): Promise<AuditReport> {
    const inFlightAfter = new Date(now().getTime() - inFlightSeconds * 1000).toISOString();
    // Pending within the reconciler's reach: its attempt is recent, or the reconciler put this very attempt off (waiting for search, or after a failure) and comes back to it.
    const inFlight = ({ status, attemptAt, createdAt, nextCheckAt, nextCheckAttemptAt }: PendingRecord) =>
      status === 'pending' &&
      ((attemptAt ?? createdAt) >= inFlightAfter ||
        (nextCheckAt !== undefined && nextCheckAttemptAt === (attemptAt ?? createdAt) && nextCheckAt >= inFlightAfter));
    const discrepancies: Discrepancy[] = [];
    const records = new Map<string, LedgerRecord>();
    for await (const record of recordsCreatedBetween(since, until)) records.set(record.orderId, record);

    const compare = (record: LedgerRecord, payment: StripePayment) => {
      const about = { orderId: record.orderId, paymentId: payment.paymentId };
      if (inFlight(record)) return;
      if (payment.orderId !== record.orderId) {
        discrepancies.push({ kind: 'payment_of_another_order', ...about, ledger: record.orderId, stripe: payment.orderId });
        return;
      }
      if (record.paymentId !== payment.paymentId)
        discrepancies.push({ kind: 'other_payment', ...about, ledger: record.paymentId ?? 'none', stripe: payment.paymentId });
      if (record.amount !== payment.amount) discrepancies.push({ kind: 'amount', ...about, ledger: String(record.amount), stripe: String(payment.amount) });
      if (record.currency !== payment.currency) discrepancies.push({ kind: 'currency', ...about, ledger: record.currency, stripe: payment.currency });
      if (!AGREEING_STATES[payment.outcome].includes(record.status))
        discrepancies.push({ kind: 'state', ...about, ledger: record.status, stripe: payment.outcome });
      const refunds = Object.values(refundsOf(record));
      // A refund still being asked of Stripe may or may not be there yet: its order is compared on the next run.
      const refundInFlight = refunds.some((refund) => refund.status === 'requested' && refund.updatedAt >= inFlightAfter);
      const refunded = refunds.filter((refund) => STRIPE_COUNTS_AS_REFUNDED.includes(refund.status)).reduce((sum, refund) => sum + refund.amount, 0);
      if (!refundInFlight && refunded !== payment.refunded)
        discrepancies.push({ kind: 'refunded', ...about, ledger: String(refunded), stripe: String(payment.refunded) });
      const [ledgerDispute, stripeDispute] = [record.dispute?.status ?? 'none', payment.dispute ?? 'none'];
      if (ledgerDispute !== stripeDispute) discrepancies.push({ kind: 'dispute', ...about, ledger: ledgerDispute, stripe: stripeDispute });
    };

    // Only what the reverse check needs of each listed payment, so a slice holds little beyond its records.
    const seen = new Map<string, StripePayment>();
    let paymentsAtStripe = 0;
    for await (const payment of paymentsCreatedBetween(since, until)) {
      paymentsAtStripe += 1;
      seen.set(payment.paymentId, payment);
      const record = records.get(payment.orderId) ?? (await readRecord(payment.orderId));
      if (record === undefined) discrepancies.push({ kind: 'payment_without_record', orderId: payment.orderId, paymentId: payment.paymentId });
      else compare(record, payment);
    }
    for (const record of records.values()) {
      if (record.paymentId === undefined) continue;
      const listed = seen.get(record.paymentId);
      // Compared above with its own order's record; only another order's record is left to catch.
      if (listed?.orderId === record.orderId) continue;
      // Made before the window, or not ours, or not at Stripe at all: ask for it by id.
      const payment = listed ?? (await readPayment(record.paymentId, namespaceOf(record)));
      if (payment === undefined) discrepancies.push({ kind: 'payment_missing_at_stripe', orderId: record.orderId, paymentId: record.paymentId });
      else compare(record, payment);
    }
    return { since: since.toISOString(), until: until.toISOString(), paymentsAtStripe, ledgerRecords: records.size, discrepancies };
  };
}

export type Audit = ReturnType<typeof createAudit>;

/** `24h`, `90m`, `7d`: how far back the audit looks from `now`. */
export function windowStart(window: string, now: Date = new Date()): Date {
  const match = /^(\d+)([mhd])$/.exec(window);
  if (match === null) throw new Error(`the window must look like 24h, 90m or 7d, not "${window}"`);
  const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
  return new Date(now.getTime() - Number(match[1]) * unitMs);
}

/** The starts (ISO) of the slices of `sliceSeconds` that cover [since, until); the last may be shorter. */
export function sliceStarts(since: Date, until: Date, sliceSeconds: number, most: number): string[] {
  if (!(sliceSeconds > 0)) throw new Error(`sliceSeconds must be a positive number of seconds, not ${sliceSeconds}`);
  const count = Math.max(0, Math.ceil((until.getTime() - since.getTime()) / (sliceSeconds * 1000)));
  if (count > most) {
    const hours = Math.floor((most * sliceSeconds) / 3600);
    throw new Error(`the window (since) is ${count} slices of ${sliceSeconds} s, more than the ${most} one run compares: audit at most ${hours}h at a time`);
  }
  return Array.from({ length: count }, (_, i) => new Date(since.getTime() + i * sliceSeconds * 1000).toISOString());
}

/**
 * A slice's report as the workflow carries it (its window is the plan's): its totals, and its first
 * differences (`unlisted` counts the rest). About 80 bytes without differences, 1,500 of them fit
 * in a Step Functions payload.
 */
export interface SliceReport extends Omit<AuditReport, 'since' | 'until'> {
  unlisted: number;
}

/** Keeps the first `most` differences of a slice's report for the verdict; the slice logs every one. */
export function listedAtMost({ paymentsAtStripe, ledgerRecords, discrepancies }: AuditReport, most: number): SliceReport {
  return { paymentsAtStripe, ledgerRecords, discrepancies: discrepancies.slice(0, most), unlisted: Math.max(0, discrepancies.length - most) };
}

/** The run's one verdict: every slice's totals added, and each difference listed once. */
export interface AuditVerdict extends AuditReport {
  slices: number;
  unlisted: number;
}

/**
 * Adds up the slices' reports. A difference at a slice's edge is found from both slices (the item
 * read by id in each): it is listed once. An unlisted one is only counted, perhaps twice.
 */
export function verdictOf(since: string, until: string, reports: SliceReport[]): AuditVerdict {
  const listed = new Map<string, Discrepancy>();
  for (const report of reports) for (const discrepancy of report.discrepancies) listed.set(JSON.stringify(discrepancy), discrepancy);
  const sum = (field: 'paymentsAtStripe' | 'ledgerRecords' | 'unlisted') => reports.reduce((total, report) => total + report[field], 0);
  return {
    since,
    until,
    slices: reports.length,
    paymentsAtStripe: sum('paymentsAtStripe'),
    ledgerRecords: sum('ledgerRecords'),
    discrepancies: [...listed.values()],
    unlisted: sum('unlisted'),
  };
}

/** How many differences a verdict found, listed or not: the metric the alarm reads, and what `npm run audit` exits 1 on. */
export const differencesIn = (verdict: AuditVerdict) => verdict.discrepancies.length + verdict.unlisted;
