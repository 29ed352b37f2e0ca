import { ledgerFact, namespaceOf, type LedgerFact, type LedgerRecord, type PaymentProvider } from './charge-order';

/** The reconciler's view of the ledger (the DynamoDB adapter reads a sparse index of pending records). */
export interface PendingLedger {
  /** Every `pending` record whose latest attempt started before `cutoff` (ISO time). */
  pendingAttemptedBefore(cutoff: string): AsyncIterable<LedgerRecord>;
  /** Writes Stripe's state, only if the record is still pending with the attempt read; false otherwise. */
  settle(record: LedgerRecord, fact: LedgerFact, now: string): Promise<boolean>;
  /** Marks the record `expired`, only if it is still pending with the attempt read; false otherwise. */
  expire(record: LedgerRecord, now: string): Promise<boolean>;
}

export interface ReconcileDependencies {
  ledger: PendingLedger;
  /** Only the strict, namespaced lookup: the reconciler never creates or confirms a payment. */
  payments: Pick<PaymentProvider, 'findPayment'>;
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
  /** Queued orders with no PaymentIntent: their message is being retried or is dead-lettered. */
  leftToQueue: number;
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
 * order came through the API → `expired`; none and it came through the queue → left to the queue.
 * It only reads Stripe, so it can never cause a charge, and it only moves a record that is still
 * pending with the attempt it read, so it never moves one backwards or overrides a newer attempt.
 */
export function createReconcilePending({ ledger, payments, graceSeconds, now = () => new Date() }: ReconcileDependencies) {
  return async function reconcilePending({ outOfTime = () => false }: ReconcileRun = {}): Promise<ReconcileSummary> {
    const summary: ReconcileSummary = { examined: 0, settled: 0, expired: 0, leftToQueue: 0, movedOn: 0, failed: 0, unfinished: false };
    // Stripe's search lags about a minute behind a new PaymentIntent; the grace period is far longer,
    // so a record past it that Stripe's search does not find has no PaymentIntent.
    const cutoff = new Date(now().getTime() - graceSeconds * 1000).toISOString();
    for await (const record of ledger.pendingAttemptedBefore(cutoff)) {
      if (outOfTime()) {
        summary.unfinished = true;
        break;
      }
      summary.examined += 1;
      try {
        const found = await payments.findPayment(record, namespaceOf(record));
        if (found !== undefined) {
          summary[(await ledger.settle(record, ledgerFact(found), now().toISOString())) ? 'settled' : 'movedOn'] += 1;
        } else if (record.channel === 'queue') {
          summary.leftToQueue += 1;
        } else {
          summary[(await ledger.expire(record, now().toISOString())) ? 'expired' : 'movedOn'] += 1;
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
