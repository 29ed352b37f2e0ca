import type { ChargeRequest } from '../contract/payment-request';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../contract/settings';
import { stripeBudgetOf } from '../contract/stripe-budget';
import { type LedgerFact, type LedgerRecord, ledgerFact, namespaceOf, type PaymentAttempt, type PaymentProvider } from './charge-order';
import { forEachAtMost, type ReadBudget, stripeRequestPacer } from './paced-work';

/** A pending record as the reconciler reads it: with when it was put off until (`checkLater`), and for which attempt. */
export type PendingRecord = LedgerRecord & { nextCheckAt?: string; nextCheckAttemptAt?: string };

/** The reconciler's view of the ledger (the DynamoDB adapter reads a sparse index of pending records). */
export interface PendingLedger {
  /**
   * Every `pending` record whose latest attempt started before `cutoff` (ISO time), oldest attempt
   * first in each part of the index, put off or not: the reconciler skips those put off itself.
   */
  pendingAttemptedBefore(cutoff: string): AsyncIterable<PendingRecord>;
  /** Writes Stripe's state, only if the record is still pending with the attempt read; false otherwise. */
  settle(record: LedgerRecord, fact: LedgerFact, now: string): Promise<boolean>;
  /** Marks the record `expired`, only if it is still pending with the attempt read; false otherwise. */
  expire(record: LedgerRecord, now: string): Promise<boolean>;
  /**
   * Puts the record off until `nextCheckAt` (ISO time), only if it is still pending with the
   * attempt read; false otherwise. A new attempt is looked at on its own schedule.
   */
  checkLater(record: LedgerRecord, nextCheckAt: string): Promise<boolean>;
}

/** One page of a listing: the order's PaymentIntent if it is on it, otherwise where the next page starts (none: the listing is done). */
export type ListingPage = { found: PaymentAttempt; next?: undefined } | { found?: undefined; next?: string };

/** How the reconciler finds an order's PaymentIntent: reads only. */
export interface PaymentLookups extends Pick<PaymentProvider, 'findPayment'> {
  /**
   * One page (up to 100, newest first, from `cursor` on) of the PaymentIntents created in
   * [from, to], and the order's among them (the same rule as findPayment). Unlike search, a
   * listing is current: a "none" from all its pages can be trusted.
   */
  findPaymentCreatedBetween(order: ChargeRequest, namespace: string, from: Date, to: Date, cursor?: string): Promise<ListingPage>;
}

/** Our clock and Stripe's may differ by this much (a PaymentIntent's `created` is Stripe's time). */
const CLOCK_SKEW_MS = 60_000;
/** A PaymentIntent this old is in Stripe's search (normally within a minute; this leaves an hour for an incident). */
export const SEARCH_TRUSTED_AFTER_MS = 60 * 60_000;
/**
 * The most listing pages (100 PaymentIntents each) read to settle an API order before search can
 * be trusted: enough for an account making about 7 PaymentIntents/s; a busier one waits for search.
 */
export const LISTING_PAGE_CAP = 10;
/** A record that could not be settled is looked at again after half its age, within these bounds. */
export const RETRY_DELAY_MS = { min: 60_000, max: 60 * 60_000 } as const;

export interface ReconcileDependencies {
  ledger: PendingLedger;
  /** Only the strict, namespaced lookups: the reconciler never creates or confirms a payment. */
  payments: PaymentLookups;
  graceSeconds: number;
  /** The reconciler's share of the Stripe budget; the default budget's when not given. */
  budget?: ReadBudget;
  now?: () => Date;
}

export interface ReconcileRun {
  /** Asked before each record: true when the run must end (its function is running out of time). */
  outOfTime?: () => boolean;
}

export interface ReconcileSummary {
  /** Pending records past the grace period (and not put off) that were looked at. */
  examined: number;
  /** Took Stripe's state (charged, declined, requires_action, canceled). */
  settled: number;
  /** API orders with no PaymentIntent: nothing charged, nothing in flight. */
  expired: number;
  /**
   * No PaymentIntent, and not known to have come through the API: a queued order (its message is
   * being retried or is dead-lettered), or a record written before records knew their channel.
   * Put off like a failure, until its next attempt or half its age from now.
   */
  leftAlone: number;
  /** Changed by someone else (a retry, a webhook, another run) between the read and the write: left as they made it. */
  movedOn: number;
  /**
   * API orders search does not show yet, on an account too busy to list the minutes around their
   * attempt: put off until search can be trusted (an hour after the attempt). Not a failure.
   */
  waiting: number;
  /** Could not be settled this run (Stripe or DynamoDB failing, or Stripe unsure): put off, a little longer each time. */
  failed: number;
  /** The run stopped before the end of the list (out of time); the next run goes on. */
  unfinished: boolean;
}

type Outcome = Exclude<keyof ReconcileSummary, 'examined' | 'failed' | 'unfinished'>;

/** The listing was too long to finish within LISTING_PAGE_CAP pages. */
const LISTING_TOO_LONG = Symbol('listing too long');

/**
 * Settles every order left `pending` past the grace period from Stripe's side, without the client
 * or webhooks: a PaymentIntent of this deployment for the order → Stripe's state; none and the
 * order came through the API → `expired`; none otherwise (the queue) → left to the queue.
 * It only reads Stripe, so it can never cause a charge, and it only moves a record that is still
 * pending with the attempt it read, so it never moves one backwards or overrides a newer attempt.
 * Records are settled `budget.parallelism` at once, every Stripe request paced within the budget;
 * one it cannot settle is put off (never retried at the head of its shard), so it blocks no other.
 */
export function createReconcilePending({
  ledger,
  payments,
  graceSeconds,
  budget = stripeBudgetOf().reconciler,
  now = () => new Date(),
}: ReconcileDependencies) {
  const stripeRequest = stripeRequestPacer(budget);

  /** The latest moment a PaymentIntent of the latest attempt can have been created, in Stripe's time. */
  const attemptEnd = (record: LedgerRecord) => Date.parse(record.attemptAt ?? record.createdAt) + CHARGE_FUNCTION_TIMEOUT_SECONDS * 1000 + CLOCK_SKEW_MS;
  /** From then on every PaymentIntent the order can have is an hour old: search's "none" is trusted. */
  const searchTrustedAt = (record: LedgerRecord) => attemptEnd(record) + SEARCH_TRUSTED_AFTER_MS;

  /**
   * Lists what search may not have shown when it was asked (`searchedAt`): the PaymentIntents
   * created less than an hour before, while the order could have made one. On a busy account that
   * is more than LISTING_PAGE_CAP pages; then the answer is "too long", never a guess.
   */
  async function listRecent(record: LedgerRecord, namespace: string, searchedAt: number): Promise<PaymentAttempt | undefined | typeof LISTING_TOO_LONG> {
    const from = new Date(Math.max(Date.parse(record.createdAt), searchedAt - SEARCH_TRUSTED_AFTER_MS) - CLOCK_SKEW_MS);
    const to = new Date(attemptEnd(record));
    let cursor: string | undefined;
    for (let page = 0; page < LISTING_PAGE_CAP; page += 1) {
      const listed = await stripeRequest(() => payments.findPaymentCreatedBetween(record, namespace, from, to, cursor));
      if (listed.found !== undefined || listed.next === undefined) return listed.found;
      cursor = listed.next;
    }
    return LISTING_TOO_LONG;
  }

  /**
   * Search (by orderId and namespace: its cost does not grow with the account's traffic) first.
   * Its "none" decides an API order's expiry only once search can be trusted; before that, only a
   * listing that ends within its cap may, since expiring an order Stripe charged would lose it.
   */
  async function settle(record: LedgerRecord): Promise<Outcome> {
    const namespace = namespaceOf(record);
    // Taken before the search: a slow answer must not make a "none" look older, hence trusted, than it is.
    const searchedAt = now().getTime();
    let found = await stripeRequest(() => payments.findPayment(record, namespace));
    if (found === undefined && record.channel !== 'api') {
      // Its message may sit in the dead-letter queue for days: asked every run, a backlog of them would hold back every record behind it.
      await putOff(record);
      return 'leftAlone';
    }
    if (found === undefined && searchedAt < searchTrustedAt(record)) {
      const listed = await listRecent(record, namespace, searchedAt);
      if (listed === LISTING_TOO_LONG) return (await ledger.checkLater(record, new Date(searchTrustedAt(record)).toISOString())) ? 'waiting' : 'movedOn';
      found = listed;
    }
    const moved = found !== undefined ? await ledger.settle(record, ledgerFact(found), now().toISOString()) : await ledger.expire(record, now().toISOString());
    if (!moved) return 'movedOn';
    return found !== undefined ? 'settled' : 'expired';
  }

  /** Looked at again after half its age (between RETRY_DELAY_MS's bounds): an outage's or a dead-letter backlog is not asked again every run. */
  async function putOff(record: LedgerRecord): Promise<void> {
    const age = now().getTime() - Date.parse(record.attemptAt ?? record.createdAt);
    const delay = Math.min(RETRY_DELAY_MS.max, Math.max(RETRY_DELAY_MS.min, age / 2));
    // If even this fails, the record is simply looked at again next run.
    await ledger.checkLater(record, new Date(now().getTime() + delay).toISOString()).catch(() => false);
  }

  return async function reconcilePending({ outOfTime = () => false }: ReconcileRun = {}): Promise<ReconcileSummary> {
    const summary: ReconcileSummary = { examined: 0, settled: 0, expired: 0, leftAlone: 0, movedOn: 0, waiting: 0, failed: 0, unfinished: false };
    const cutoff = new Date(now().getTime() - graceSeconds * 1000).toISOString();
    const runAt = now().toISOString();
    summary.unfinished = await forEachAtMost(
      ledger.pendingAttemptedBefore(cutoff),
      budget.parallelism,
      async (record) => {
        // Skipped here, not in the adapter: the run checks its time at each, so a long run of put-off records cannot outlast the function.
        if (isPutOff(record, runAt)) return;
        summary.examined += 1;
        try {
          summary[await settle(record)] += 1;
        } catch {
          // One order's failure must not stop the others, nor come first again next run.
          summary.failed += 1;
          await putOff(record);
        }
      },
      outOfTime,
    );
    return summary;
  };
}

export type ReconcilePending = ReturnType<typeof createReconcilePending>;

/** Put off until after `now`, for the attempt it still has (a new attempt is looked at on its own schedule). */
function isPutOff(record: PendingRecord, now: string): boolean {
  return record.nextCheckAt !== undefined && record.nextCheckAt > now && record.nextCheckAttemptAt === record.attemptAt;
}
