import type { ChargeRequest } from '../../lambdas/contract/payment-request';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import type { LedgerFact, LedgerRecord, PaymentAttempt } from '../../lambdas/core/charge-order';
import {
  createReconcilePending,
  LISTING_PAGE_CAP,
  type PaymentLookups,
  type PendingLedger,
  type PendingRecord,
  SEARCH_TRUSTED_AFTER_MS,
} from '../../lambdas/core/reconcile-pending';

const NOW = new Date('2026-11-28T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

function record(orderId: string, attemptMinutesAgo: number, extra: Partial<PendingRecord> = {}): PendingRecord {
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

/**
 * An in-memory ledger with the DynamoDB adapter's conditions: a move lands only on the very pending
 * attempt that was read; put-off records are read like the others (the reconciler skips them).
 */
class FakePendingLedger implements PendingLedger {
  readonly records = new Map<string, PendingRecord>();
  /** How many records the run read, put off or not. */
  read = 0;
  constructor(records: PendingRecord[]) {
    for (const r of records) this.records.set(r.orderId, { ...r });
  }
  async *pendingAttemptedBefore(cutoff: string) {
    for (const r of [...this.records.values()].sort((a, b) => (a.attemptAt as string).localeCompare(b.attemptAt as string))) {
      if (r.status !== 'pending' || (r.attemptAt as string) >= cutoff) continue;
      this.read += 1;
      yield { ...r };
    }
  }
  private move(read: LedgerRecord, fields: Partial<PendingRecord>): boolean {
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
  async checkLater(read: LedgerRecord, nextCheckAt: string) {
    return this.move(read, { nextCheckAt, nextCheckAttemptAt: read.attemptAt });
  }
}

/**
 * Stripe as the reconciler may use it: lookups only (its type has no way to create or confirm).
 * `listed` is what a listing finds that search does not show yet; `listingPages` how many pages
 * an order's listing has (1 unless said: a quiet account).
 */
function stripeWith(found: Record<string, PaymentAttempt | Error>, listed: Record<string, PaymentAttempt> = {}, listingPages: Record<string, number> = {}) {
  const lookups: Array<{ orderId: string; namespace: string }> = [];
  const listings: Array<{ orderId: string; from: string; to: string; cursor?: string }> = [];
  const payments: PaymentLookups = {
    async findPayment(order: ChargeRequest, namespace: string) {
      lookups.push({ orderId: order.orderId, namespace });
      const answer = found[order.orderId];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async findPaymentCreatedBetween(order: ChargeRequest, _namespace: string, from: Date, to: Date, cursor?: string) {
      listings.push({ orderId: order.orderId, from: from.toISOString(), to: to.toISOString(), ...(cursor !== undefined && { cursor }) });
      const page = cursor === undefined ? 1 : Number(cursor) + 1;
      if (page < (listingPages[order.orderId] ?? 1)) return { next: String(page) };
      const answer = listed[order.orderId];
      return answer === undefined ? {} : { found: answer };
    },
  };
  return { payments, lookups, listings };
}

/** A budget that never makes a unit test wait. */
const UNPACED = { requestsPerSecond: 1_000_000, parallelism: 4 };
const reconcilerOf = (ledger: PendingLedger, payments: PaymentLookups, now = () => NOW, budget = UNPACED) =>
  createReconcilePending({ ledger, payments, graceSeconds: 600, budget, now });
/** The end of an attempt made this many minutes ago, as the listing's upper bound: its function's timeout and a minute of clock skew later. */
const attemptEnd = (minutes: number) => new Date(Date.parse(minutesAgo(minutes)) + (CHARGE_FUNCTION_TIMEOUT_SECONDS + 60) * 1000);

/** A run with time for `count` Stripe lookups (one per record here; a put-off record, skipped, takes none). */
function timeForLookups(count: number, lookups: unknown[]) {
  const before = lookups.length;
  return () => lookups.length - before >= count;
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
    const summary = await reconcilerOf(ledger, payments)();

    expect(summary).toEqual({ examined: 4, settled: 2, expired: 1, leftAlone: 1, movedOn: 0, waiting: 0, failed: 0, unfinished: false });
    expect(ledger.records.get('paid')).toMatchObject({ status: 'charged', paymentId: 'pi_1', factVersion: expect.any(String) });
    expect(ledger.records.get('nothing')).toMatchObject({ status: 'expired' });
    expect(ledger.records.get('queued')).toMatchObject({ status: 'pending' });
    expect(ledger.records.get('queued-paid')).toMatchObject({ status: 'charged', paymentId: 'pi_2' });
  });

  it('does not trust search\'s "none" (it lags) for an attempt younger than an hour: it lists what search may not show yet', async () => {
    const ledger = new FakePendingLedger([record('lagging', 30, { createdAt: minutesAgo(45) })]);
    const { payments, listings } = stripeWith({}, { lagging: charged });
    const summary = await reconcilerOf(ledger, payments)();
    expect(summary).toMatchObject({ settled: 1, expired: 0 });
    expect(ledger.records.get('lagging')).toMatchObject({ status: 'charged', paymentId: 'pi_1' });
    // From its creation to the end of its latest attempt, give or take a minute of clock skew.
    expect(listings).toEqual([{ orderId: 'lagging', from: minutesAgo(46), to: attemptEnd(30).toISOString() }]);
  });

  it('lists only the last hour (search has indexed anything older), so an order resumed days later costs one short listing', async () => {
    const ledger = new FakePendingLedger([record('week-old', 20, { createdAt: minutesAgo(7 * 24 * 60) })]);
    const { payments, listings } = stripeWith({});
    expect(await reconcilerOf(ledger, payments)()).toMatchObject({ expired: 1, failed: 0 });
    expect(listings).toEqual([{ orderId: 'week-old', from: minutesAgo(60 + 1), to: attemptEnd(20).toISOString() }]);
  });

  it('trusts search\'s "none" once the attempt is an hour old (and its function\'s timeout and the clock skew past): no listing', async () => {
    const searchTrustedFor = (60 * 60 + CHARGE_FUNCTION_TIMEOUT_SECONDS + 60) / 60;
    const ledger = new FakePendingLedger([record('trusted', searchTrustedFor + 1), record('not-yet', searchTrustedFor - 1)]);
    const { payments, listings } = stripeWith({});
    expect(await reconcilerOf(ledger, payments)()).toMatchObject({ expired: 2 });
    expect(listings.map(({ orderId }) => orderId)).toEqual(['not-yet']);
  });

  it('judges search\'s "none" by when search was asked, not by when it answered: a slow answer never turns an untrusted "none" into a trusted one', async () => {
    const searchTrustedFor = (60 * 60 + CHARGE_FUNCTION_TIMEOUT_SECONDS + 60) / 60;
    // Search can be trusted 30 s after the run asks it; it answers (lagging, "none") a minute later.
    const ledger = new FakePendingLedger([record('slow-search', searchTrustedFor - 0.5)]);
    const { payments, listings } = stripeWith({}, { 'slow-search': charged });
    let clock = NOW.getTime();
    const slowSearch: PaymentLookups = {
      async findPayment(...args) {
        clock += 60_000;
        return payments.findPayment(...args);
      },
      findPaymentCreatedBetween: payments.findPaymentCreatedBetween,
    };
    expect(await reconcilerOf(ledger, slowSearch, () => new Date(clock))()).toMatchObject({ settled: 1, expired: 0 });
    // The last hour before the search, not before its answer: what search may not have shown then.
    expect(listings.map(({ from }) => from)).toEqual([minutesAgo(61)]);
  });

  it('on an account too busy to list the minutes around the attempt, waits for search instead of failing, then expires on its word', async () => {
    const ledger = new FakePendingLedger([record('busy', 30), record('quiet', 30)]);
    const { payments, listings } = stripeWith({}, {}, { busy: LISTING_PAGE_CAP + 1, quiet: LISTING_PAGE_CAP });
    expect(await reconcilerOf(ledger, payments)()).toMatchObject({ examined: 2, expired: 1, waiting: 1, failed: 0 });
    expect(listings.filter(({ orderId }) => orderId === 'busy')).toHaveLength(LISTING_PAGE_CAP);
    expect(ledger.records.get('quiet')?.status).toBe('expired');
    // Put off until search can be trusted: an hour after the attempt could last have made a PaymentIntent.
    const trustedAt = new Date(attemptEnd(30).getTime() + SEARCH_TRUSTED_AFTER_MS);
    expect(ledger.records.get('busy')).toMatchObject({ status: 'pending', attemptAt: minutesAgo(30), nextCheckAt: trustedAt.toISOString() });

    expect(await reconcilerOf(ledger, payments, () => new Date(trustedAt.getTime() - 1000))()).toMatchObject({ examined: 0 });
    expect(await reconcilerOf(ledger, payments, () => trustedAt)()).toMatchObject({ examined: 1, expired: 1 });
    expect(listings.filter(({ orderId }) => orderId === 'busy')).toHaveLength(LISTING_PAGE_CAP);
  });

  it('never expires an order whose PaymentIntent is on a later page of the listing, within the cap', async () => {
    const ledger = new FakePendingLedger([record('deep', 30)]);
    const { payments, listings } = stripeWith({}, { deep: charged }, { deep: LISTING_PAGE_CAP });
    expect(await reconcilerOf(ledger, payments)()).toMatchObject({ settled: 1, expired: 0 });
    expect(listings.map(({ cursor }) => cursor)).toEqual([undefined, ...Array.from({ length: LISTING_PAGE_CAP - 1 }, (_, page) => String(page + 1))]);
  });

  it('does not list for an order it leaves alone whatever the answer (queued, or of unknown channel)', async () => {
    const ledger = new FakePendingLedger([record('queued', 60, { channel: 'queue' }), record('unknown', 60, { channel: undefined })]);
    const { payments, listings } = stripeWith({});
    for (let run = 0; run < 3; run += 1) await reconcilerOf(ledger, payments)();
    expect(listings).toEqual([]);
  });

  it('leaves a record whose latest attempt is within the grace period alone, without asking Stripe', async () => {
    const ledger = new FakePendingLedger([record('recent', 9)]);
    const { payments, lookups } = stripeWith({});
    const summary = await reconcilerOf(ledger, payments)();
    expect(summary.examined).toBe(0);
    expect(lookups).toEqual([]);
    expect(ledger.records.get('recent')?.status).toBe('pending');
  });

  it('looks the order up in the namespace its record was started in', async () => {
    const ledger = new FakePendingLedger([record('renamed', 30, { namespace: 'old-name' }), record('before', 30, { namespace: undefined })]);
    const { payments, lookups } = stripeWith({});
    await reconcilerOf(ledger, payments)();
    expect(lookups).toEqual([
      { orderId: 'renamed', namespace: 'old-name' },
      { orderId: 'before', namespace: '' },
    ]);
  });

  it("never moves a record that changed after it was read (a retry's new attempt, a webhook, another run): counted as moved on", async () => {
    const ledger = new FakePendingLedger([record('retried', 30), record('webhooked', 30)]);
    const payments: PaymentLookups = {
      findPaymentCreatedBetween: async () => ({}),
      async findPayment(order) {
        // While Stripe is asked, a client retry marks a new attempt, and a webhook charges the other order.
        if (order.orderId === 'retried') Object.assign(ledger.records.get('retried') as LedgerRecord, { attemptAt: NOW.toISOString() });
        if (order.orderId === 'webhooked') Object.assign(ledger.records.get('webhooked') as LedgerRecord, { status: 'charged', paymentId: 'pi_w' });
        return undefined;
      },
    };
    const summary = await reconcilerOf(ledger, payments)();
    expect(summary).toMatchObject({ examined: 2, expired: 0, movedOn: 2 });
    expect(ledger.records.get('retried')?.status).toBe('pending');
    expect(ledger.records.get('webhooked')).toMatchObject({ status: 'charged', paymentId: 'pi_w' });
  });

  it('goes on past an order it cannot settle (Stripe failing), counts it, and puts it off for half its age', async () => {
    const ledger = new FakePendingLedger([record('broken', 30), record('fine', 30)]);
    const { payments } = stripeWith({ broken: new Error('Stripe 500'), fine: charged });
    const summary = await reconcilerOf(ledger, payments)();
    expect(summary).toMatchObject({ examined: 2, settled: 1, failed: 1 });
    expect(ledger.records.get('broken')).toMatchObject({ status: 'pending', attemptAt: minutesAgo(30), nextCheckAt: minutesAgo(-15) });
  });

  it('puts a record off longer each time it fails (up to an hour), and settles it once Stripe answers', async () => {
    const ledger = new FakePendingLedger([record('broken', 30)]);
    const failing = stripeWith({ broken: new Error('Stripe 500') });
    const at = (minutes: number) => () => new Date(NOW.getTime() + minutes * 60_000);
    const delays: number[] = [];
    let clock = 0;
    for (let run = 0; run < 6; run += 1) {
      // Not looked at before its time; looked at, and put off again, from then on.
      if (run > 0) expect(await reconcilerOf(ledger, failing.payments, at(clock - 0.5))()).toMatchObject({ examined: 0 });
      expect(await reconcilerOf(ledger, failing.payments, at(clock))()).toMatchObject({ examined: 1, failed: 1 });
      const next = (Date.parse(ledger.records.get('broken')?.nextCheckAt as string) - NOW.getTime()) / 60_000;
      delays.push(next - clock);
      clock = next;
    }
    // Half the attempt's age each time (30 minutes old at first), at most an hour.
    expect(delays).toEqual([15, 22.5, 33.75, 50.625, 60, 60]);
    expect(failing.lookups).toHaveLength(6);
    expect(await reconcilerOf(ledger, stripeWith({ broken: charged }).payments, at(clock))()).toMatchObject({ settled: 1 });
  });

  it('puts off a record whose write failed, as one Stripe could not answer', async () => {
    const ledger = new FakePendingLedger([record('unwritten', 30)]);
    ledger.settle = async () => {
      throw new Error('DynamoDB throttled');
    };
    expect(await reconcilerOf(ledger, stripeWith({ unwritten: charged }).payments)()).toMatchObject({ failed: 1 });
    expect(ledger.records.get('unwritten')).toMatchObject({ status: 'pending', nextCheckAt: minutesAgo(-15) });
  });

  it('never lets records it cannot settle block those behind them in their shard, run after run', async () => {
    const stuck = ['stuck-1', 'stuck-2', 'stuck-3'];
    const ledger = new FakePendingLedger([
      ...stuck.map((orderId) => record(orderId, 50)),
      record('behind-1', 40),
      record('behind-2', 40),
      record('behind-3', 40),
    ]);
    const { payments, lookups } = stripeWith({
      ...Object.fromEntries(stuck.map((orderId) => [orderId, new Error('Stripe unsure')])),
      'behind-1': charged,
      'behind-2': charged,
      'behind-3': charged,
    });
    // Each run has time for three records only: the oldest three, at the head of the index, cannot be settled.
    const budget = { requestsPerSecond: 1_000_000, parallelism: 1 };
    expect(await reconcilerOf(ledger, payments, () => NOW, budget)({ outOfTime: timeForLookups(3, lookups) })).toMatchObject({
      examined: 3,
      failed: 3,
      unfinished: true,
    });
    expect(await reconcilerOf(ledger, payments, () => NOW, budget)({ outOfTime: timeForLookups(3, lookups) })).toMatchObject({
      examined: 3,
      settled: 3,
      failed: 0,
    });
    expect([...ledger.records.values()].map(({ status }) => status)).toEqual(['pending', 'pending', 'pending', 'charged', 'charged', 'charged']);
  });

  it('never lets orders it leaves alone (queued ones sitting in the dead-letter queue) block those behind them, run after run', async () => {
    const deadLettered = ['queued-1', 'queued-2', 'queued-3'];
    const ledger = new FakePendingLedger([
      ...deadLettered.map((orderId) => record(orderId, 50, { channel: 'queue' })),
      record('behind-1', 40),
      record('behind-2', 40),
      record('behind-3', 40),
    ]);
    const { payments, lookups } = stripeWith({ 'behind-1': charged, 'behind-2': charged, 'behind-3': charged });
    // Each run has time for three records only: the oldest three, at the head of the index, are left to the queue.
    const budget = { requestsPerSecond: 1_000_000, parallelism: 1 };
    expect(await reconcilerOf(ledger, payments, () => NOW, budget)({ outOfTime: timeForLookups(3, lookups) })).toMatchObject({
      leftAlone: 3,
      unfinished: true,
    });
    expect(await reconcilerOf(ledger, payments, () => NOW, budget)({ outOfTime: timeForLookups(3, lookups) })).toMatchObject({ examined: 3, settled: 3 });
    // Put off like a failure (half their age), so a dead-letter backlog costs a search each per interval, not each per run.
    expect(ledger.records.get('queued-1')).toMatchObject({ status: 'pending', nextCheckAt: minutesAgo(-25) });
    expect(lookups.filter(({ orderId }) => orderId.startsWith('queued'))).toHaveLength(3);
  });

  it('looks at a put-off queued order again as soon as its message is retried (a new attempt)', async () => {
    const ledger = new FakePendingLedger([record('queued', 50, { channel: 'queue' })]);
    const { payments, lookups } = stripeWith({});
    expect(await reconcilerOf(ledger, payments)()).toMatchObject({ leftAlone: 1 });
    Object.assign(ledger.records.get('queued') as LedgerRecord, { attemptAt: minutesAgo(20) });
    expect(await reconcilerOf(ledger, payments)()).toMatchObject({ examined: 1, leftAlone: 1 });
    expect(lookups).toHaveLength(2);
  });

  it('checks its time at every record it reads, put off or not: a long run of put-off records cannot outlast its function', async () => {
    const putOff = { nextCheckAt: minutesAgo(-30), nextCheckAttemptAt: minutesAgo(50) };
    const ledger = new FakePendingLedger([...Array.from({ length: 6 }, (_, index) => record(`put-off-${index}`, 50, putOff)), record('behind', 40)]);
    const { payments, lookups } = stripeWith({ behind: charged });
    let asked = 0;
    const summary = await reconcilerOf(ledger, payments)({ outOfTime: () => ++asked > 3 });
    expect(summary).toMatchObject({ examined: 0, unfinished: true });
    expect(ledger.read).toBe(4);
    expect(lookups).toEqual([]);
    // With time for all of them, the put-off ones are skipped, uncounted, and the one behind is settled.
    expect(await reconcilerOf(ledger, payments)()).toMatchObject({ examined: 1, settled: 1, unfinished: false });
  });

  it('settles at most `parallelism` records at once', async () => {
    const ledger = new FakePendingLedger(Array.from({ length: 12 }, (_, index) => record(`order-${index}`, 30)));
    let inFlight = 0;
    let most = 0;
    const payments: PaymentLookups = {
      async findPayment() {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight -= 1;
        return charged;
      },
      findPaymentCreatedBetween: async () => ({}),
    };
    const summary = await reconcilerOf(ledger, payments, () => NOW, { requestsPerSecond: 1_000_000, parallelism: 3 })();
    expect(summary).toMatchObject({ examined: 12, settled: 12 });
    expect(most).toBe(3);
  });

  it('sends Stripe at most `requestsPerSecond` requests a second, each listing page counted', async () => {
    const ledger = new FakePendingLedger([record('a', 30), record('b', 30), record('listed', 30)]);
    const sentAt: number[] = [];
    const { payments } = stripeWith({ a: charged, b: charged }, {}, { listed: 3 });
    const timed: PaymentLookups = {
      findPayment(...args) {
        sentAt.push(Date.now());
        return payments.findPayment(...args);
      },
      findPaymentCreatedBetween(...args) {
        sentAt.push(Date.now());
        return payments.findPaymentCreatedBetween(...args);
      },
    };
    await reconcilerOf(ledger, timed, () => NOW, { requestsPerSecond: 20, parallelism: 3 })();
    expect(sentAt).toHaveLength(6);
    // 20 a second: one every 50 ms (less a little for the timers' granularity).
    expect(sentAt[5] - sentAt[0]).toBeGreaterThanOrEqual(5 * 50 - 20);
  });

  it('stops taking records when its function runs out of time, and says so', async () => {
    const ledger = new FakePendingLedger([record('a', 30), record('b', 30), record('c', 30)]);
    const { payments } = stripeWith({});
    let asked = 0;
    const summary = await reconcilerOf(
      ledger,
      payments,
    )({
      outOfTime: () => {
        asked += 1;
        return asked > 2;
      },
    });
    expect(summary).toMatchObject({ examined: 2, expired: 2, unfinished: true });
  });
});
