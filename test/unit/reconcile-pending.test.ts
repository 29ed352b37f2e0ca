import type { ChargeRequest } from '../../lambdas/contract/payment-request';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import type { LedgerFact, LedgerRecord, PaymentAttempt } from '../../lambdas/core/charge-order';
import { createReconcilePending, type PaymentLookups, type PendingLedger } from '../../lambdas/core/reconcile-pending';

const NOW = new Date('2026-11-28T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

function record(orderId: string, attemptMinutesAgo: number, extra: Partial<LedgerRecord> = {}): LedgerRecord {
  const at = minutesAgo(attemptMinutesAgo);
  return {
    orderId,
    status: 'pending',
    amount: 1000,
    currency: 'eur',
    channel: 'api',
    namespace: 'test',
    attemptAt: at,
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

/** An in-memory ledger with the DynamoDB adapter's conditions: a move lands only on the very pending attempt that was read. */
class FakePendingLedger implements PendingLedger {
  readonly records = new Map<string, LedgerRecord>();
  constructor(records: LedgerRecord[]) {
    for (const r of records) this.records.set(r.orderId, { ...r });
  }
  async *pendingAttemptedBefore(cutoff: string) {
    for (const r of [...this.records.values()]) if (r.status === 'pending' && (r.attemptAt as string) < cutoff) yield { ...r };
  }
  private move(read: LedgerRecord, fields: Partial<LedgerRecord>): boolean {
    const current = this.records.get(read.orderId);
    if (current?.status !== 'pending' || current.attemptAt !== read.attemptAt) return false;
    Object.assign(current, fields);
    return true;
  }
  async settle(read: LedgerRecord, fact: LedgerFact) {
    return this.move(read, fact);
  }
  async expire(read: LedgerRecord) {
    return this.move(read, { status: 'expired' });
  }
}

/**
 * Stripe as the reconciler may use it: lookups only (its type has no way to create or confirm).
 * `listed` is what a listing finds that search does not show yet.
 */
function stripeWith(found: Record<string, PaymentAttempt | Error>, listed: Record<string, PaymentAttempt> = {}) {
  const lookups: Array<{ orderId: string; namespace: string }> = [];
  const listings: Array<{ orderId: string; from: string; to: string }> = [];
  const payments: PaymentLookups = {
    async findPayment(order: ChargeRequest, namespace: string) {
      lookups.push({ orderId: order.orderId, namespace });
      const answer = found[order.orderId];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async findPaymentCreatedBetween(order: ChargeRequest, _namespace: string, from: Date, to: Date) {
      listings.push({ orderId: order.orderId, from: from.toISOString(), to: to.toISOString() });
      return listed[order.orderId];
    },
  };
  return { payments, lookups, listings };
}

const charged: PaymentAttempt = { status: 'charged', paymentId: 'pi_1', paymentStatus: 'succeeded', paymentCreated: 1_800_000_000 };

describe('reconcilePending', () => {
  it("settles from Stripe's side: its state where it has a PaymentIntent, expired for an API order without one, a queued one left to the queue", async () => {
    const ledger = new FakePendingLedger([
      record('paid', 30),
      record('nothing', 30),
      record('queued', 30, { channel: 'queue' }),
      record('queued-paid', 30, { channel: 'queue' }),
    ]);
    const { payments } = stripeWith({ paid: charged, 'queued-paid': { ...charged, paymentId: 'pi_2' } });
    const summary = await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })();

    expect(summary).toEqual({ examined: 4, settled: 2, expired: 1, leftAlone: 1, movedOn: 0, failed: 0, unfinished: false });
    expect(ledger.records.get('paid')).toMatchObject({ status: 'charged', paymentId: 'pi_1', factVersion: expect.any(String) });
    expect(ledger.records.get('nothing')).toMatchObject({ status: 'expired' });
    expect(ledger.records.get('queued')).toMatchObject({ status: 'pending' });
    expect(ledger.records.get('queued-paid')).toMatchObject({ status: 'charged', paymentId: 'pi_2' });
  });

  it('does not trust search\'s "none" (it lags): it lists what was created while the order could have made a PaymentIntent', async () => {
    const ledger = new FakePendingLedger([record('lagging', 30, { createdAt: minutesAgo(90) })]);
    const { payments, listings } = stripeWith({}, { lagging: charged });
    const summary = await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })();
    expect(summary).toMatchObject({ settled: 1, expired: 0 });
    expect(ledger.records.get('lagging')).toMatchObject({ status: 'charged', paymentId: 'pi_1' });
    // From its creation to the end of its latest attempt, give or take a minute of clock skew.
    expect(listings).toEqual([
      { orderId: 'lagging', from: minutesAgo(91), to: new Date(Date.parse(minutesAgo(30)) + (CHARGE_FUNCTION_TIMEOUT_SECONDS + 60) * 1000).toISOString() },
    ]);
  });

  it('lists only around the latest attempt (search has long indexed anything older), so an order resumed days later costs one short listing', async () => {
    const ledger = new FakePendingLedger([record('week-old', 20, { createdAt: minutesAgo(7 * 24 * 60) })]);
    const { payments, listings } = stripeWith({});
    expect(await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })()).toMatchObject({ expired: 1, failed: 0 });
    expect(listings).toEqual([
      {
        orderId: 'week-old',
        from: minutesAgo(20 + 60 + 1),
        to: new Date(Date.parse(minutesAgo(20)) + (CHARGE_FUNCTION_TIMEOUT_SECONDS + 60) * 1000).toISOString(),
      },
    ]);
  });

  it('does not list for an order it leaves alone whatever the answer (queued, or of unknown channel)', async () => {
    const ledger = new FakePendingLedger([record('queued', 60, { channel: 'queue' }), record('unknown', 60, { channel: undefined })]);
    const { payments, listings } = stripeWith({});
    for (let run = 0; run < 3; run += 1) await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })();
    expect(listings).toEqual([]);
  });

  it('leaves a record whose latest attempt is within the grace period alone, without asking Stripe', async () => {
    const ledger = new FakePendingLedger([record('recent', 9)]);
    const { payments, lookups } = stripeWith({});
    const summary = await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })();
    expect(summary.examined).toBe(0);
    expect(lookups).toEqual([]);
    expect(ledger.records.get('recent')?.status).toBe('pending');
  });

  it('looks the order up in the namespace its record was started in', async () => {
    const ledger = new FakePendingLedger([record('renamed', 30, { namespace: 'old-name' }), record('before', 30, { namespace: undefined })]);
    const { payments, lookups } = stripeWith({});
    await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })();
    expect(lookups).toEqual([
      { orderId: 'renamed', namespace: 'old-name' },
      { orderId: 'before', namespace: '' },
    ]);
  });

  it("never moves a record that changed after it was read (a retry's new attempt, a webhook, another run): counted as moved on", async () => {
    const ledger = new FakePendingLedger([record('retried', 30), record('webhooked', 30)]);
    const payments: PaymentLookups = {
      findPaymentCreatedBetween: async () => undefined,
      async findPayment(order) {
        // While Stripe is asked, a client retry marks a new attempt, and a webhook charges the other order.
        if (order.orderId === 'retried') Object.assign(ledger.records.get('retried') as LedgerRecord, { attemptAt: NOW.toISOString() });
        if (order.orderId === 'webhooked') Object.assign(ledger.records.get('webhooked') as LedgerRecord, { status: 'charged', paymentId: 'pi_w' });
        return undefined;
      },
    };
    const summary = await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })();
    expect(summary).toMatchObject({ examined: 2, expired: 0, movedOn: 2 });
    expect(ledger.records.get('retried')?.status).toBe('pending');
    expect(ledger.records.get('webhooked')).toMatchObject({ status: 'charged', paymentId: 'pi_w' });
  });

  it('goes on past an order it cannot settle (Stripe failing), and counts it', async () => {
    const ledger = new FakePendingLedger([record('broken', 30), record('fine', 30)]);
    const { payments } = stripeWith({ broken: new Error('Stripe 500'), fine: charged });
    const summary = await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })();
    expect(summary).toMatchObject({ examined: 2, settled: 1, failed: 1 });
    expect(ledger.records.get('broken')?.status).toBe('pending');
  });

  it('stops taking records when its function runs out of time, and says so', async () => {
    const ledger = new FakePendingLedger([record('a', 30), record('b', 30), record('c', 30)]);
    const { payments } = stripeWith({});
    let asked = 0;
    const summary = await createReconcilePending({ ledger, payments, graceSeconds: 600, now: () => NOW })({
      outOfTime: () => {
        asked += 1;
        return asked > 2;
      },
    });
    expect(summary).toMatchObject({ examined: 2, expired: 2, unfinished: true });
  });
});
