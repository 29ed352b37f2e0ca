import { BEFORE_NAMESPACES, paymentMetadata, refundMetadata } from '../../lambdas/contract/payment-metadata';
import {
  createApplyPaymentEvent,
  type DisputeUpdate,
  disputeFactVersion,
  type FactOutcome,
  factVersion,
  type LedgerUpdate,
  ledgerUpdateFrom,
  type PaymentEvent,
  type PaymentStatusUpdate,
  type RefundUpdate,
} from '../../lambdas/core/payment-events';
import { refundFactVersion } from '../../lambdas/core/refund-order';

const NAMESPACE = 'sandbox';
const ours = paymentMetadata(NAMESPACE, 'order-1');
const intent = { id: 'pi_1', object: 'payment_intent', amount: 3000, currency: 'eur', status: 'succeeded', metadata: ours };
const refund = { id: 're_1', object: 'refund', amount: 1000, currency: 'eur', payment_intent: 'pi_1', status: 'succeeded', metadata: {} };
const dispute = {
  id: 'dp_1',
  object: 'dispute',
  amount: 3000,
  currency: 'eur',
  payment_intent: 'pi_1',
  charge: 'ch_1',
  status: 'needs_response',
  reason: 'fraudulent',
};
const event = (type: string, object: Record<string, unknown>, created = 1_800_000_000): PaymentEvent => ({
  id: `evt_${type}`,
  type,
  created,
  data: { object },
});

describe('ledgerUpdateFrom', () => {
  it.each([
    [
      'payment_intent.succeeded',
      intent,
      { kind: 'payment', status: 'charged', paymentId: 'pi_1', orderId: 'order-1', namespace: NAMESPACE, paymentStatus: 'succeeded' },
    ],
    [
      'payment_intent.payment_failed',
      { ...intent, status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds' } },
      { kind: 'payment', status: 'declined', declineCode: 'insufficient_funds' },
    ],
    ['payment_intent.canceled', { ...intent, status: 'canceled' }, { kind: 'payment', status: 'canceled' }],
    [
      'refund.created',
      refund,
      { kind: 'refund', orderId: undefined, paymentId: 'pi_1', refundKey: 'stripe#re_1', amount: 1000, fact: { stripeRefundId: 're_1', status: 'succeeded' } },
    ],
    [
      'refund.failed',
      { ...refund, status: 'failed', metadata: refundMetadata(NAMESPACE, 'order-1', 'r-1') },
      { kind: 'refund', orderId: 'order-1', namespace: NAMESPACE, refundKey: 'r-1', fact: { stripeRefundId: 're_1', status: 'failed' } },
    ],
    ['charge.refund.updated', { ...refund, status: 'pending' }, { kind: 'refund', fact: { stripeRefundId: 're_1', status: 'pending' } }],
    [
      'charge.dispute.created',
      dispute,
      { kind: 'dispute', paymentId: 'pi_1', dispute: { disputeId: 'dp_1', status: 'needs_response', amount: 3000, reason: 'fraudulent' } },
    ],
    ['charge.dispute.closed', { ...dispute, status: 'lost' }, { kind: 'dispute', dispute: { status: 'lost' } }],
  ])('reads %s as a ledger fact', (type, object, expected) => {
    expect(ledgerUpdateFrom(event(type, object))).toMatchObject(expected);
  });

  it.each(['payment_intent.created', 'customer.created', 'charge.succeeded', 'charge.refunded'])('has no fact for %s', (type) => {
    expect(ledgerUpdateFrom(event(type, { ...intent, amount_refunded: 3000, payment_intent: 'pi_1' }))).toBeUndefined();
  });

  it('has no fact for a refund of a Charge made without a PaymentIntent (the legacy Charges API), nor for a status Stripe does not document', () => {
    expect(ledgerUpdateFrom(event('refund.created', { ...refund, payment_intent: null }))).toBeUndefined();
    expect(ledgerUpdateFrom(event('refund.updated', { ...refund, status: 'reversed' }))).toBeUndefined();
  });

  it("takes the namespace a payment was made in from its metadata, whichever deployment's it is", () => {
    expect(ledgerUpdateFrom(event('payment_intent.succeeded', { ...intent, metadata: paymentMetadata('earlier', 'order-1') }))).toMatchObject({
      orderId: 'order-1',
      namespace: 'earlier',
    });
    expect(ledgerUpdateFrom(event('payment_intent.succeeded', { ...intent, metadata: paymentMetadata(BEFORE_NAMESPACES, 'order-1') }))).toMatchObject({
      orderId: 'order-1',
      namespace: BEFORE_NAMESPACES,
    });
    expect(ledgerUpdateFrom(event('payment_intent.succeeded', { ...intent, metadata: { orderId: 'order-1' } }))).toMatchObject({ orderId: undefined });
  });
});

describe('fact versions', () => {
  it("order a payment's facts by time, then stage, then amount refunded, then event id (the charge path's fact, without one, first)", () => {
    const ordered = [
      factVersion(100, 'charged'),
      factVersion(100, 'partially_refunded', 500),
      factVersion(100, 'partially_refunded', 1500),
      factVersion(100, 'refunded', 3000),
      factVersion(100, 'refunded', 3000, 'evt_a'),
      factVersion(100, 'refunded', 3000, 'evt_b'),
      factVersion(101, 'requires_action'),
      factVersion(2_000_000_000, 'declined'),
    ];
    expect([...ordered].sort()).toEqual(ordered);
  });

  it("order a refund's and a dispute's facts by time, then stage (a final one last), then event id", () => {
    const refunds = [
      refundFactVersion(100, 'requested'),
      refundFactVersion(100, 'pending'),
      refundFactVersion(100, 'succeeded'),
      refundFactVersion(100, 'failed', 'evt_a'),
    ];
    expect([...refunds].sort()).toEqual(refunds);
    const disputes = [
      disputeFactVersion(100, 'needs_response'),
      disputeFactVersion(100, 'under_review'),
      disputeFactVersion(100, 'lost'),
      disputeFactVersion(101, 'needs_response'),
    ];
    expect([...disputes].sort()).toEqual(disputes);
  });
});

describe('applyPaymentEvent', () => {
  function recorder(orderIdAtStripe?: { orderId: string; namespace: string }, verdict: FactOutcome = 'applied') {
    const written: LedgerUpdate[] = [];
    const lookups: string[] = [];
    const write = (kind: LedgerUpdate['kind']) => async (update: PaymentStatusUpdate | RefundUpdate | DisputeUpdate) => {
      written.push({ kind, ...update } as LedgerUpdate);
      return verdict;
    };
    const apply = createApplyPaymentEvent({
      namespace: NAMESPACE,
      applyStatusUpdate: write('payment'),
      applyRefundUpdate: write('refund'),
      applyDisputeUpdate: write('dispute'),
      orderIdForPayment: async (paymentId) => {
        lookups.push(paymentId);
        return orderIdAtStripe;
      },
    });
    return { apply, written, lookups };
  }

  it('asks Stripe for the order of a refund or dispute that carries no orderId, and places the fact in that order and namespace', async () => {
    const { apply, written, lookups } = recorder({ orderId: 'order-9', namespace: 'earlier' });
    await expect(apply(event('refund.created', refund))).resolves.toBe('applied');
    await expect(apply(event('charge.dispute.created', dispute))).resolves.toBe('applied');
    expect(lookups).toEqual(['pi_1', 'pi_1']);
    expect(written).toEqual([
      expect.objectContaining({ kind: 'refund', orderId: 'order-9', namespace: 'earlier', refundKey: 'stripe#re_1' }),
      expect.objectContaining({ kind: 'dispute', orderId: 'order-9', namespace: 'earlier' }),
    ]);
  });

  it('ignores what no deployment of this service made: a PaymentIntent by its metadata, a refund by its PaymentIntent whatever metadata it carries', async () => {
    const { apply, written, lookups } = recorder(undefined);
    await expect(apply(event('payment_intent.succeeded', { ...intent, metadata: { orderId: 'order-1' } }))).resolves.toBe('ignored');
    await expect(apply(event('refund.created', { ...refund, metadata: { orderId: 'x' } }))).resolves.toBe('ignored');
    await expect(apply(event('refund.created', refund))).resolves.toBe('ignored');
    await expect(apply(event('invoice.paid', intent))).resolves.toBe('ignored');
    expect(written).toEqual([]);
    expect(lookups).toEqual(['pi_1', 'pi_1']);
  });

  it.each(['stale', 'conflict', 'unknown_order', 'applied'] as const)("passes on what the ledger says of this namespace's fact: %s", async (verdict) => {
    await expect(recorder(undefined, verdict).apply(event('payment_intent.succeeded', intent))).resolves.toBe(verdict);
  });

  it("names a record of another namespace a conflict for this namespace's fact, and ignores another namespace's fact it cannot place", async () => {
    await expect(recorder(undefined, 'other_namespace').apply(event('payment_intent.succeeded', intent))).resolves.toBe('conflict');
    const staging = event('payment_intent.succeeded', { ...intent, metadata: paymentMetadata('staging', 'order-1') });
    await expect(recorder(undefined, 'other_namespace').apply(staging)).resolves.toBe('ignored');
    await expect(recorder(undefined, 'unknown_order').apply(staging)).resolves.toBe('ignored');
    // A record made in that namespace (an earlier one of this deployment) takes it.
    await expect(recorder(undefined, 'applied').apply(staging)).resolves.toBe('applied');
  });
});
