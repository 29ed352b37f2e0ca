import { stripeBudgetOf } from '../contract/stripe-budget';
import type { LedgerRecord } from './charge-order';
import { forEachAtMost, type ReadBudget, stripeRequestPacer } from './paced-work';
import type { LedgerObserver } from './payment-events';
import type { ReconcileRun } from './reconcile-pending';
import {
  lastLookedAt,
  type RefundAttempt,
  type RefundEntry,
  type RefundProvider,
  type RefundsLedger,
  refundFactVersion,
  refundsOf,
  refundUpdater,
  UNSETTLED,
  withRefundOf,
} from './refund-order';
import { refundCreateOf } from './stripe-requests';

/** The ledger's orders with a refund still open at Stripe (a sparse index of them). */
export interface UnsettledRefunds {
  /** Orders with a refund unsettled since before `cutoff` (ISO time). */
  ordersWithRefundsUnsettledBefore(cutoff: string): AsyncIterable<string>;
}

/** How the reconciler finds a refund at Stripe: reads only. */
export interface RefundLookups extends Pick<RefundProvider, 'findRefund'> {
  /** A refund by Stripe's id, if Stripe has it. */
  readRefund(stripeRefundId: string): Promise<RefundAttempt | undefined>;
}

export interface ReconcileRefundsDependencies {
  ledger: RefundsLedger & UnsettledRefunds;
  payments: RefundLookups;
  graceSeconds: number;
  /** The reconciler's share of the Stripe budget; the default budget's when not given. */
  budget?: ReadBudget;
  now?: () => Date;
  /** Told of refunds it finds failed (the alarm counts them). */
  observer?: LedgerObserver;
}

export interface ReconcileRefundsSummary {
  /** Refunds open past the grace period that were looked at. */
  examined: number;
  /** Took Stripe's state (succeeded, failed, canceled, or the Stripe refund a lost answer left unrecorded). */
  settled: number;
  /** Reserved but never made at Stripe: the amount is refundable again. */
  released: number;
  /** Still open at Stripe (a refund that takes days), or changed by someone else meanwhile. */
  unchanged: number;
  failed: number;
  unfinished: boolean;
}

/** A refund made in the Dashboard is keyed by Stripe's id; any other key is a refundId of ours. */
const isOurs = (key: string) => !key.includes('#');

/**
 * Settles refunds left open past the grace period from Stripe's side, without the client or
 * webhooks: one Stripe knows takes Stripe's state; one of ours that Stripe never made (its call
 * failed, and nobody asked again) gives its reserved amount back. The grace is well past any
 * refund call's timeout, and the PaymentIntent's refunds are listed (current, unlike search), so
 * "not at Stripe" means it never will be. It only reads Stripe, so it never refunds anything.
 */
export function createReconcileRefunds({
  ledger,
  payments,
  graceSeconds,
  budget = stripeBudgetOf().reconciler,
  now = () => new Date(),
  observer,
}: ReconcileRefundsDependencies) {
  const updateRefunds = refundUpdater(ledger, now, observer);
  // A lookup is one request (a PaymentIntent's refunds fit one listing page but for the rarest order).
  const stripeRequest = stripeRequestPacer(budget);

  async function settle(record: LedgerRecord, key: string, entry: RefundEntry, summary: ReconcileRefundsSummary): Promise<void> {
    // Stripe's state as of just before it was read: an event about a change after the read is newer, whenever this is written.
    const readAt = Math.floor(now().getTime() / 1000);
    const found =
      entry.stripeRefundId !== undefined
        ? await stripeRequest(() => payments.readRefund(entry.stripeRefundId as string))
        : isOurs(key)
          ? await stripeRequest(() => payments.findRefund(refundCreateOf(record, key)))
          : undefined;
    let outcome: keyof ReconcileRefundsSummary = 'unchanged';
    await updateRefunds(record.orderId, record, (current) => {
      const seen = refundsOf(current)[key];
      outcome = 'unchanged';
      // Someone else (a retry, a webhook) moved it since it was read: theirs stands.
      if (seen === undefined || seen.updatedAt !== entry.updatedAt || seen.status !== entry.status) return undefined;
      if (found === undefined) {
        if (seen.status !== 'requested' || seen.stripeRefundId !== undefined)
          return { ...refundsOf(current), [key]: { ...seen, checkedAt: now().toISOString() } };
        const { [key]: _neverMade, ...rest } = refundsOf(current);
        outcome = 'released';
        return rest;
      }
      if (found.status === seen.status && found.stripeRefundId === seen.stripeRefundId) {
        // Still open at Stripe (a refund that takes days): looked at, so others behind it come first next time.
        return { ...refundsOf(current), [key]: { ...seen, checkedAt: now().toISOString() } };
      }
      const fact = { stripeRefundId: found.stripeRefundId, status: found.status, version: refundFactVersion(readAt, found.status) };
      const applied = withRefundOf(refundsOf(current), key, found.amount, fact, now().toISOString());
      if (applied.outcome === 'applied') outcome = 'settled';
      return applied.refunds;
    });
    summary[outcome] += 1;
  }

  return async function reconcileRefunds({ outOfTime = () => false }: ReconcileRun = {}): Promise<ReconcileRefundsSummary> {
    const summary: ReconcileRefundsSummary = { examined: 0, settled: 0, released: 0, unchanged: 0, failed: 0, unfinished: false };
    const cutoff = new Date(now().getTime() - graceSeconds * 1000).toISOString();
    // Orders `budget.parallelism` at once; an order's refunds one after another, as each write builds on the last.
    summary.unfinished = await forEachAtMost(
      ledger.ordersWithRefundsUnsettledBefore(cutoff),
      budget.parallelism,
      async (orderId) => {
        try {
          const record = await ledger.read(orderId);
          if (record === undefined) return;
          for (const [key, entry] of Object.entries(refundsOf(record))) {
            if (!UNSETTLED.includes(entry.status) || lastLookedAt(entry) >= cutoff) continue;
            summary.examined += 1;
            await settle(record, key, entry, summary);
          }
        } catch {
          // One order's failure must not stop the others; the next run tries it again.
          summary.failed += 1;
        }
      },
      outOfTime,
    );
    return summary;
  };
}

export type ReconcileRefunds = ReturnType<typeof createReconcileRefunds>;
