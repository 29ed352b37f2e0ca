import fc from 'fast-check';
import { auditSliceSeconds, MAX_AUDIT_SLICES } from '../../lambdas/contract/audit-workflow';
import { DAILY_AUDIT_WINDOW } from '../../lambdas/contract/settings';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { createAudit, listedAtMost, type StripePayment, sliceStarts, verdictOf, windowStart } from '../../lambdas/core/audit';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import type { RefundStatus } from '../../lambdas/core/refund-order';

const NOW = new Date('2026-11-28T12:00:00Z');
const SINCE = new Date('2026-11-27T12:00:00Z');
const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();

const record = (orderId: string, extra: Partial<LedgerRecord> = {}): LedgerRecord => ({
  orderId,
  status: 'charged',
  amount: 1000,
  currency: 'eur',
  paymentId: `pi_${orderId}`,
  namespace: 'prod',
  createdAt: at(60),
  updatedAt: at(60),
  attemptAt: at(60),
  ...extra,
});
const payment = (orderId: string, extra: Partial<StripePayment> = {}): StripePayment => ({
  paymentId: `pi_${orderId}`,
  orderId,
  amount: 1000,
  currency: 'eur',
  outcome: 'charged',
  created: 1_800_000_000,
  refunded: 0,
  ...extra,
});

function auditOf(records: LedgerRecord[], payments: StripePayment[], elsewhere: StripePayment[] = []) {
  return createAudit({
    async *paymentsCreatedBetween() {
      yield* payments;
    },
    async *recordsCreatedBetween() {
      yield* records;
    },
    readRecord: async (orderId) => records.find((r) => r.orderId === orderId),
    readPayment: async (paymentId) => [...payments, ...elsewhere].find((p) => p.paymentId === paymentId),
    inFlightSeconds: 600 + 300,
    now: () => NOW,
  })(SINCE);
}

const refund = (amount: number, status: RefundStatus, minutesAgo = 60) => ({ amount, status, createdAt: at(minutesAgo), updatedAt: at(minutesAgo) });

describe('the audit', () => {
  it('finds nothing when the ledger agrees with Stripe (a refund after the charge agrees too)', async () => {
    const report = await auditOf(
      [record('a'), record('b', { status: 'refunded', amountRefunded: 1000, refunds: { r: refund(1000, 'succeeded') } }), record('c', { status: 'declined' })],
      [payment('a'), payment('b', { refunded: 1000 }), payment('c', { outcome: 'declined' })],
    );
    expect(report).toEqual({ since: SINCE.toISOString(), until: NOW.toISOString(), paymentsAtStripe: 3, ledgerRecords: 3, discrepancies: [] });
  });

  it('reports a PaymentIntent with no ledger record: an orphan charge', async () => {
    expect((await auditOf([], [payment('orphan')])).discrepancies).toEqual([{ kind: 'payment_without_record', orderId: 'orphan', paymentId: 'pi_orphan' }]);
  });

  it('reports a record that disagrees on the PaymentIntent, amount, currency or state', async () => {
    const report = await auditOf(
      [
        record('pi', { paymentId: 'pi_other' }),
        record('amount', { amount: 999 }),
        record('currency', { currency: 'usd' }),
        record('state', { status: 'expired' }),
      ],
      [payment('pi'), payment('amount'), payment('currency'), payment('state')],
      [payment('pi', { paymentId: 'pi_other' })],
    );
    expect(report.discrepancies).toEqual([
      { kind: 'other_payment', orderId: 'pi', paymentId: 'pi_pi', ledger: 'pi_other', stripe: 'pi_pi' },
      { kind: 'amount', orderId: 'amount', paymentId: 'pi_amount', ledger: '999', stripe: '1000' },
      { kind: 'currency', orderId: 'currency', paymentId: 'pi_currency', ledger: 'usd', stripe: 'eur' },
      { kind: 'state', orderId: 'state', paymentId: 'pi_state', ledger: 'expired', stripe: 'charged' },
    ]);
  });

  it("reports two PaymentIntents for one order: the second is another payment than the record's", async () => {
    const report = await auditOf([record('twice')], [payment('twice'), payment('twice', { paymentId: 'pi_second' })]);
    expect(report.discrepancies).toEqual([{ kind: 'other_payment', orderId: 'twice', paymentId: 'pi_second', ledger: 'pi_twice', stripe: 'pi_second' }]);
  });

  it('reports a record naming a PaymentIntent Stripe does not have, and checks one made before the window by id', async () => {
    const report = await auditOf([record('ghost'), record('older')], [], [payment('older')]);
    expect(report.discrepancies).toEqual([{ kind: 'payment_missing_at_stripe', orderId: 'ghost', paymentId: 'pi_ghost' }]);
  });

  it("compares the money: refunds (pending ones count at Stripe, failed ones do not) and the dispute's status", async () => {
    const report = await auditOf(
      [
        record('agree', { refunds: { a: refund(300, 'succeeded'), b: refund(200, 'pending'), c: refund(100, 'failed') } }),
        record('missed', { refunds: {} }),
        record('extra', { refunds: { a: refund(300, 'succeeded') } }),
        record('lost', { dispute: { disputeId: 'dp_1', status: 'needs_response', amount: 1000, reason: 'fraudulent', factVersion: 'v' } }),
        record('unseen'),
        record('asking', { refunds: { a: refund(300, 'requested', 1) } }),
        record('stuck', { refunds: { a: refund(300, 'requested', 60) } }),
      ],
      [
        payment('agree', { refunded: 500 }),
        payment('missed', { refunded: 400 }),
        payment('extra'),
        payment('lost', { dispute: 'lost' }),
        payment('unseen', { dispute: 'needs_response' }),
        payment('asking', { refunded: 300 }),
        payment('stuck', { refunded: 300 }),
      ],
    );
    expect(report.discrepancies).toEqual([
      { kind: 'refunded', orderId: 'missed', paymentId: 'pi_missed', ledger: '0', stripe: '400' },
      { kind: 'refunded', orderId: 'extra', paymentId: 'pi_extra', ledger: '300', stripe: '0' },
      { kind: 'dispute', orderId: 'lost', paymentId: 'pi_lost', ledger: 'needs_response', stripe: 'lost' },
      { kind: 'dispute', orderId: 'unseen', paymentId: 'pi_unseen', ledger: 'none', stripe: 'needs_response' },
      { kind: 'refunded', orderId: 'stuck', paymentId: 'pi_stuck', ledger: '0', stripe: '300' },
    ]);
  });

  it('reports a record naming the PaymentIntent of another order, whether Stripe listed it or it is read by id', async () => {
    const listed = await auditOf([record('a'), record('b', { paymentId: 'pi_a' })], [payment('a')]);
    expect(listed.discrepancies).toEqual([{ kind: 'payment_of_another_order', orderId: 'b', paymentId: 'pi_a', ledger: 'b', stripe: 'a' }]);
    const older = await auditOf([record('b', { paymentId: 'pi_a' })], [], [payment('a')]);
    expect(older.discrepancies).toEqual([{ kind: 'payment_of_another_order', orderId: 'b', paymentId: 'pi_a', ledger: 'b', stripe: 'a' }]);
  });

  it("leaves an order in flight alone: pending within the reconciler's grace plus its interval, not yet settled", async () => {
    const report = await auditOf([record('flight', { status: 'pending', paymentId: undefined, attemptAt: at(2) })], [payment('flight')]);
    expect(report.discrepancies).toEqual([]);
    // Past the grace (10 min) but within the next run (5 min later): the reconciler settles it, not a person.
    const settling = await auditOf([record('settling', { status: 'pending', paymentId: undefined, attemptAt: at(13) })], [payment('settling')]);
    expect(settling.discrepancies).toEqual([]);
    const stale = await auditOf([record('stale', { status: 'pending', paymentId: undefined, attemptAt: at(30) })], [payment('stale')]);
    expect(stale.discrepancies.map((d) => d.kind)).toEqual(['other_payment', 'state']);
  });

  it('leaves alone an order the reconciler put off for its latest attempt (waiting for search, or after a failure), until it comes back to it', async () => {
    const putOff = (nextCheckAt: string, nextCheckAttemptAt = at(50)) =>
      record('waiting', { status: 'pending', paymentId: undefined, attemptAt: at(50), nextCheckAt, nextCheckAttemptAt } as Partial<LedgerRecord>);
    expect((await auditOf([putOff(at(-10))], [payment('waiting')])).discrepancies).toEqual([]);
    // Put off for an earlier attempt, or its time long past without a settlement: a person should look.
    expect((await auditOf([putOff(at(-10), at(55))], [payment('waiting')])).discrepancies.map((d) => d.kind)).toEqual(['other_payment', 'state']);
    expect((await auditOf([putOff(at(20))], [payment('waiting')])).discrepancies.map((d) => d.kind)).toEqual(['other_payment', 'state']);
  });
});

describe('windowStart', () => {
  it.each([
    ['24h', 24 * 3_600_000],
    ['90m', 90 * 60_000],
    ['7d', 7 * 86_400_000],
  ])('reads %s', (window, ms) => {
    expect(windowStart(window, NOW).getTime()).toBe(NOW.getTime() - ms);
  });
  it('refuses anything else', () => {
    expect(() => windowStart('yesterday', NOW)).toThrow(/24h/);
  });
});

describe("the daily audit's windows", () => {
  const T1 = new Date('2026-11-28T03:00:00Z');
  const T2 = new Date(T1.getTime() + 24 * 3_600_000);
  const sec = (date: Date) => Math.floor(date.getTime() / 1000);
  const run = (at: Date, records: LedgerRecord[], payments: StripePayment[]) => {
    const until = windowStart(DAILY_AUDIT_WINDOW.settledFor, at);
    return createAudit({
      async *paymentsCreatedBetween(since, end) {
        for (const p of payments) if (p.created >= sec(since) && p.created < sec(end)) yield p;
      },
      async *recordsCreatedBetween(since, end) {
        for (const r of records) if (r.createdAt >= since.toISOString() && r.createdAt < end.toISOString()) yield r;
      },
      readRecord: async (orderId) => records.find((r) => r.orderId === orderId),
      readPayment: async (paymentId) => payments.find((p) => p.paymentId === paymentId),
      inFlightSeconds: 600 + 300,
      now: () => at,
    })(windowStart(DAILY_AUDIT_WINDOW.since, until), until);
  };

  it('catch a second PaymentIntent made minutes before a run: the next run still covers it, once it is settled', async () => {
    const created = new Date(T1.getTime() - 5 * 60_000);
    const payments = [
      { ...payment('o1'), created: sec(created) },
      { ...payment('o1', { paymentId: 'pi_second' }), created: sec(created) + 6 },
    ];
    const inFlight = record('o1', { status: 'pending', paymentId: undefined, createdAt: created.toISOString(), attemptAt: created.toISOString() });
    expect((await run(T1, [inFlight], payments)).discrepancies).toEqual([]); // not settled yet: left for the next run
    const settled = { ...inFlight, status: 'charged' as const, paymentId: 'pi_o1' };
    expect((await run(T2, [settled], payments)).discrepancies).toEqual([
      { kind: 'other_payment', orderId: 'o1', paymentId: 'pi_second', ledger: 'pi_o1', stripe: 'pi_second' },
    ]);
  });

  it('leave no day unaudited when one run fails (each covers the day before again)', () => {
    const windowOf = (runAt: Date) => {
      const until = windowStart(DAILY_AUDIT_WINDOW.settledFor, runAt);
      return { since: windowStart(DAILY_AUDIT_WINDOW.since, until).getTime(), until: until.getTime() };
    };
    const before = windowOf(new Date(T1.getTime() - 24 * 3_600_000)); // ran
    const after = windowOf(T2); // the run at T1 failed and was not retried
    expect(after.since).toBeLessThanOrEqual(before.until);
  });

  it('raise no alarm about an order the reconciler may still be settling (pending for 11 minutes)', async () => {
    const created = new Date(T1.getTime() - 11 * 60_000);
    const pendingRecord = record('o3', { status: 'pending', paymentId: undefined, createdAt: created.toISOString(), attemptAt: created.toISOString() });
    expect((await run(T1, [pendingRecord], [{ ...payment('o3'), created: sec(created) }])).discrepancies).toEqual([]);
  });
});

describe('the audit in slices', () => {
  const HOUR = 3_600_000;
  const START = new Date('2026-11-28T00:00:00Z');
  const iso = (ms: number) => new Date(START.getTime() + ms).toISOString();
  const sec = (ms: number) => Math.floor((START.getTime() + ms) / 1000);

  it('cuts a window into slices that cover it, the last one shorter, and refuses more than one run compares', () => {
    expect(sliceStarts(START, new Date(START.getTime() + 2.5 * HOUR), 3600, 10)).toEqual([iso(0), iso(HOUR), iso(2 * HOUR)]);
    expect(() => sliceStarts(START, new Date(START.getTime() + 11 * HOUR), 3600, 10)).toThrow(/more than the 10 one run compares: audit at most 10h/);
    expect(() => sliceStarts(START, NOW, 0, 10)).toThrow(/sliceSeconds/);
  });

  it('are sized from the budget: an hour at the default 25 requests/s, two minutes at 1,000 orders/s, so the daily window fits one run', () => {
    expect(auditSliceSeconds(stripeBudgetOf(25))).toBe(3600);
    const busy = stripeBudgetOf(1430);
    expect(busy.ordersPerSecond).toBeGreaterThanOrEqual(1000);
    expect(auditSliceSeconds(busy)).toBe(119);
    const dailyWindowSeconds = 49 * 3600;
    expect(Math.ceil(dailyWindowSeconds / auditSliceSeconds(busy))).toBeLessThanOrEqual(MAX_AUDIT_SLICES);
  });

  it('compares slice by slice, each holding only its own records; an order split by a slice edge agrees, and a difference there is listed once', async () => {
    // The record is stamped a second after the edge by our clock, the PaymentIntent a second before it by Stripe's.
    const records = [
      record('early', { createdAt: iso(10 * 60_000) }),
      record('edge', { createdAt: iso(HOUR + 1000) }),
      record('late', { createdAt: iso(HOUR + 30 * 60_000) }),
    ];
    const payments = [
      payment('early', { created: sec(10 * 60_000) }),
      payment('edge', { created: sec(HOUR - 1000) }),
      payment('late', { created: sec(HOUR + 30 * 60_000), amount: 5 }),
      payment('skewed', { created: sec(HOUR - 1000), amount: 7 }),
    ];
    records.push(record('skewed', { createdAt: iso(HOUR + 1000) }));
    const heldPerSlice: number[] = [];
    const audit = createAudit({
      async *paymentsCreatedBetween(since, until) {
        for (const p of payments) if (p.created >= Math.floor(since.getTime() / 1000) && p.created < Math.ceil(until.getTime() / 1000)) yield p;
      },
      async *recordsCreatedBetween(since, until) {
        const inSlice = records.filter((r) => r.createdAt >= since.toISOString() && r.createdAt < until.toISOString());
        heldPerSlice.push(inSlice.length);
        yield* inSlice;
      },
      readRecord: async (orderId) => records.find((r) => r.orderId === orderId),
      readPayment: async (paymentId) => payments.find((p) => p.paymentId === paymentId),
      inFlightSeconds: 900,
      now: () => new Date(START.getTime() + 3 * HOUR),
    });
    const until = new Date(START.getTime() + 2 * HOUR);
    const reports = [];
    for (const since of sliceStarts(START, until, 3600, 10)) reports.push(listedAtMost(await audit(new Date(since), new Date(Date.parse(since) + HOUR)), 10));
    expect(heldPerSlice).toEqual([1, 3]);
    const verdict = verdictOf(START.toISOString(), until.toISOString(), reports);
    expect(verdict).toMatchObject({ slices: 2, paymentsAtStripe: 4, ledgerRecords: 4, unlisted: 0 });
    expect(verdict.discrepancies).toEqual([
      { kind: 'amount', orderId: 'skewed', paymentId: 'pi_skewed', ledger: '1000', stripe: '7' },
      { kind: 'amount', orderId: 'late', paymentId: 'pi_late', ledger: '1000', stripe: '5' },
    ]);
  });

  it('finds exactly the differences one audit of the whole window finds, wherever the slice edges and the two clocks put each order', async () => {
    const window = { since: START.getTime(), until: START.getTime() + 3 * HOUR };
    const order = fc.record({
      // Some orders made just before or after the window, so that edges of the window are crossed too.
      createdMs: fc.integer({ min: window.since - 60_000, max: window.until + 60_000 }),
      // Stripe's clock against ours, and a PaymentIntent made later by a resume.
      skewMs: fc.oneof(fc.integer({ min: -5_000, max: 5_000 }), fc.integer({ min: 0, max: 2 * HOUR })),
      fault: fc.constantFrom('none', 'none', 'amount', 'second_payment', 'no_record', 'missing_at_stripe', 'another_order'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(order, { maxLength: 40 }), fc.integer({ min: 60, max: 2 * 3600 }), async (orders, sliceSeconds) => {
        const records: LedgerRecord[] = [];
        const payments: StripePayment[] = [];
        orders.forEach(({ createdMs, skewMs, fault }, i) => {
          const orderId = `o${i}`;
          const created = Math.floor((createdMs + skewMs) / 1000);
          if (fault !== 'no_record')
            records.push(record(orderId, { createdAt: new Date(createdMs).toISOString(), ...(fault === 'another_order' && { paymentId: 'pi_o0' }) }));
          if (fault !== 'missing_at_stripe') payments.push(payment(orderId, { created, ...(fault === 'amount' && { amount: 1 }) }));
          if (fault === 'second_payment') payments.push(payment(orderId, { paymentId: `pi_${orderId}_again`, created: created + 1 }));
        });
        const audit = createAudit({
          async *paymentsCreatedBetween(since, until) {
            for (const p of payments) if (p.created >= Math.floor(since.getTime() / 1000) && p.created < Math.ceil(until.getTime() / 1000)) yield p;
          },
          async *recordsCreatedBetween(since, until) {
            yield* records.filter((r) => r.createdAt >= since.toISOString() && r.createdAt < until.toISOString());
          },
          readRecord: async (orderId) => records.find((r) => r.orderId === orderId),
          readPayment: async (paymentId) => payments.find((p) => p.paymentId === paymentId),
          inFlightSeconds: 900,
          now: () => new Date(window.until + 3 * HOUR),
        });
        const [since, until] = [new Date(window.since), new Date(window.until)];
        const whole = await audit(since, until);
        const reports = [];
        for (const start of sliceStarts(since, until, sliceSeconds, MAX_AUDIT_SLICES)) {
          const end = new Date(Math.min(Date.parse(start) + sliceSeconds * 1000, window.until));
          reports.push(listedAtMost(await audit(new Date(start), end), 1_000));
        }
        const verdict = verdictOf(since.toISOString(), until.toISOString(), reports);
        const sorted = (found: object[]) => found.map((d) => JSON.stringify(d)).sort();
        expect(sorted(verdict.discrepancies)).toEqual(sorted(whole.discrepancies));
        expect(verdict).toMatchObject({ paymentsAtStripe: whole.paymentsAtStripe, ledgerRecords: whole.ledgerRecords, unlisted: 0 });
      }),
      { numRuns: 200 },
    );
  });
});
