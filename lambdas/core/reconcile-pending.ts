import type { ChargeRequest } from '../contract/payment-request';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../contract/settings';
import { type LedgerFact, type LedgerRecord, ledgerFact, namespaceOf, type PaymentAttempt, type PaymentProvider } from './charge-order';

/** The reconciler's view of the ledger (the DynamoDB adapter reads a sparse index of pending records). */
export interface PendingLedger {
  /** Every `pending` record whose latest attempt started before `cutoff` (ISO time). */
  pendingAttemptedBefore(cutoff: string): AsyncIterable<LedgerRecord>;
  /** Writes Stripe's state, only if the record is still pending with the attempt read; false otherwise. */
  settle(record: LedgerRecord, fact: LedgerFact, now: string): Promise<boolean>;
  /** Marks the record `expired`, only if it is still pending with the attempt read; false otherwise. */
  expire(record: LedgerRecord, now: string): Promise<boolean>;
}

/** How the reconciler finds an order's PaymentIntent: reads only. */
export interface PaymentLookups extends Pick<PaymentProvider, 'findPayment'> {
  /**
   * Lists the PaymentIntents created in [from, to] and finds the order's among them (the same rule
   * as findPayment). Unlike search, a listing is current: a "none" from it can be trusted.
   */
  findPaymentCreatedBetween(order: ChargeRequest, namespace: string, from: Date, to: Date): Promise<PaymentAttempt | undefined>;
}

/** Our clock and Stripe's may differ by this much (a PaymentIntent's `created` is Stripe's time). */
const CLOCK_SKEW_MS = 60_000;
/** A PaymentIntent this old is in Stripe's search (normally within a minute; this leaves an hour for an incident). */
const SEARCH_TRUSTED_AFTER_MS = 60 * 60_000;

export interface ReconcileDependencies {
  ledger: PendingLedger;
  /** Only the strict, namespaced lookups: the reconciler never creates or confirms a payment. */
  payments: PaymentLookups;
  graceSeconds: number;
  now?: () => Date;
}

export interface ReconcileRun {
  /** Asked before each record: true when the run must end (its function is running out of time). */
  outOfTime?: () => boolean;
}

export interface ReconcileSummary {
  /** Pending records past the grace period that were looked at. */
  examined: number;
  /** Took Stripe's state (charged, declined, requires_action, canceled). */
  settled: number;
  /** API orders with no PaymentIntent: nothing charged, nothing in flight. */
  expired: number;
  /**
   * No PaymentIntent, and not known to have come through the API: a queued order (its message is
   * being retried or is dead-lettered), or a record written before records knew their channel.
   */
  leftAlone: number;
  /** Changed by someone else (a retry, a webhook, another run) between the read and the write: left as they made it. */
  movedOn: number;
  /** Could not be settled this run (Stripe or DynamoDB failing); tried again next run. */
  failed: number;
  /** The run stopped before the end of the list (out of time); the next run goes on. */
  unfinished: boolean;
}

/**
 * Settles every order left `pending` past the grace period from Stripe's side, without the client
 * or webhooks: a PaymentIntent of this deployment for the order → Stripe's state; none and the
 * order came through the API → `expired`; none otherwise (the queue) → left to the queue.
 * It only reads Stripe, so it can never cause a charge, and it only moves a record that is still
 * pending with the attempt it read, so it never moves one backwards or overrides a newer attempt.
 */
export function createReconcilePending({ ledger, payments, graceSeconds, now = () => new Date() }: ReconcileDependencies) {
  /**
   * Search finds a PaymentIntent cheaply, but lags behind new ones (about a minute, longer while
   * Stripe has trouble), so its "none" is not trusted where it decides something (an API order is
   * about to be expired): the PaymentIntents created around the latest attempt are listed, which is
   * current. Older ones search has long since indexed; a queued or unknown-channel order is left
   * alone whatever the answer, so it is not listed.
   */
  async function findAnyPayment(record: LedgerRecord) {
    const namespace = namespaceOf(record);
    const found = await payments.findPayment(record, namespace);
    if (found !== undefined || record.channel !== 'api') return found;
    const attemptAt = Date.parse(record.attemptAt ?? record.createdAt);
    const from = new Date(Math.max(Date.parse(record.createdAt), attemptAt - SEARCH_TRUSTED_AFTER_MS) - CLOCK_SKEW_MS);
    const to = new Date(attemptAt + CHARGE_FUNCTION_TIMEOUT_SECONDS * 1000 + CLOCK_SKEW_MS);
    return payments.findPaymentCreatedBetween(record, namespace, from, to);
  }

  return async function reconcilePending({ outOfTime = () => false }: ReconcileRun = {}): Promise<ReconcileSummary> {
    const summary: ReconcileSummary = { examined: 0, settled: 0, expired: 0, leftAlone: 0, movedOn: 0, failed: 0, unfinished: false };
    const cutoff = new Date(now().getTime() - graceSeconds * 1000).toISOString();
    for await (const record of ledger.pendingAttemptedBefore(cutoff)) {
      if (outOfTime()) {
        summary.unfinished = true;
        break;
      }
      summary.examined += 1;
      try {
        const found = await findAnyPayment(record);
        if (found !== undefined) {
          summary[(await ledger.settle(record, ledgerFact(found), now().toISOString())) ? 'settled' : 'movedOn'] += 1;
        } else if (record.channel === 'api') {
          summary[(await ledger.expire(record, now().toISOString())) ? 'expired' : 'movedOn'] += 1;
        } else {
          summary.leftAlone += 1;
        }
      } catch {
        // One order's failure must not stop the others; the next run tries it again.
        summary.failed += 1;
      }
    }
    return summary;
  };
}

export type ReconcilePending = ReturnType<typeof createReconcilePending>;
