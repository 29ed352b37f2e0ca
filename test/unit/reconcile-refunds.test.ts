import type { LedgerRecord } from '../../lambdas/core/charge-order';
import { createReconcileRefunds, type RefundLookups, type UnsettledRefunds } from '../../lambdas/core/reconcile-refunds';
import type { RefundState, RefundsLedger } from '../../lambdas/core/refund-order';

const NOW = new Date('2026-11-28T12:00:00Z');
const hourAgo = new Date(NOW.getTime() - 60 * 60_000).toISOString();

/** An order charged an hour ago with one refund still pending at Stripe. */
const withPendingRefund = (orderId: string): LedgerRecord => ({
  orderId,
  status: 'charged',
  amount: 1000,
  currency: 'eur',
  paymentId: `pi_${orderId}`,
  createdAt: hourAgo,
  updatedAt: hourAgo,
  refundReserved: 1000,
  refunds: { [`refund-${orderId}`]: { amount: 1000, status: 'pending', stripeRefundId: `re_${orderId}`, createdAt: hourAgo, updatedAt: hourAgo } },
});

/** An in-memory ledger whose writes always land. */
function ledgerOf(records: LedgerRecord[]): RefundsLedger & UnsettledRefunds {
  const byId = new Map(records.map((record) => [record.orderId, record]));
  return {
    read: async (orderId) => byId.get(orderId),
    async writeRefunds(seen: LedgerRecord, state: RefundState) {
      const record = { ...seen, ...state };
      byId.set(seen.orderId, record);
      return { written: true, record };
    },
    async *ordersWithRefundsUnsettledBefore() {
      yield* byId.keys();
    },
  };
}

describe('reconcileRefunds', () => {
  it('looks at orders `parallelism` at once, each still open at Stripe looked at once', async () => {
    const orders = Array.from({ length: 9 }, (_, index) => withPendingRefund(`order-${index}`));
    let inFlight = 0;
    let most = 0;
    const asked: string[] = [];
    const payments: RefundLookups = {
      async readRefund(stripeRefundId) {
        asked.push(stripeRefundId);
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight -= 1;
        return { stripeRefundId, paymentId: 'pi', amount: 1000, status: 'pending', created: 1_800_000_000 };
      },
      findRefund: async () => undefined,
    };
    const summary = await createReconcileRefunds({
      ledger: ledgerOf(orders),
      payments,
      graceSeconds: 600,
      budget: { requestsPerSecond: 1_000_000, parallelism: 3 },
      now: () => NOW,
    })();
    expect(summary).toEqual({ examined: 9, settled: 0, released: 0, unchanged: 9, failed: 0, unfinished: false });
    expect(asked).toHaveLength(9);
    expect(most).toBe(3);
  });
});
