import { paymentMetadata } from '../../lambdas/contract/payment-metadata';
import { createApplyPaymentEvent, factVersion, type PaymentEvent, type PaymentStatusUpdate, statusUpdateFrom } from '../../lambdas/core/payment-events';

const NAMESPACE = 'sandbox';
const ours = paymentMetadata(NAMESPACE, 'order-1');
const intent = { id: 'pi_1', object: 'payment_intent', amount: 3000, currency: 'eur', status: 'succeeded', metadata: ours };
const event = (type: string, object: Record<string, unknown>, created = 1_800_000_000): PaymentEvent => ({
  id: `evt_${type}`,
  type,
  created,
  data: { object },
});

describe('statusUpdateFrom', () => {
  it.each([
    ['payment_intent.succeeded', intent, { status: 'charged', paymentId: 'pi_1', orderId: 'order-1', paymentStatus: 'succeeded' }],
    [
      'payment_intent.payment_failed',
      { ...intent, status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds' } },
      { status: 'declined', declineCode: 'insufficient_funds' },
    ],
    ['payment_intent.canceled', { ...intent, status: 'canceled' }, { status: 'canceled' }],
    [
      'charge.refunded',
      { id: 'ch_1', object: 'charge', amount: 3000, amount_refunded: 3000, refunded: true, currency: 'eur', payment_intent: 'pi_1' },
      { status: 'refunded', amountRefunded: 3000, paymentId: 'pi_1', orderId: undefined },
    ],
    [
      'charge.refunded',
      { id: 'ch_1', object: 'charge', amount: 3000, amount_refunded: 1000, currency: 'eur', payment_intent: 'pi_1' },
      { status: 'partially_refunded', amountRefunded: 1000 },
    ],
  ])('reads %s as a ledger fact', (type, object, expected) => {
    expect(statusUpdateFrom(event(type, object), NAMESPACE)).toMatchObject(expected);
  });

  it.each(['payment_intent.created', 'customer.created', 'charge.succeeded'])('has no fact for %s', (type) => {
    expect(statusUpdateFrom(event(type, intent), NAMESPACE)).toBeUndefined();
  });

  it('has no fact for a refunded Charge made without a PaymentIntent (the legacy Charges API)', () => {
    expect(statusUpdateFrom(event('charge.refunded', { amount: 1, amount_refunded: 1, refunded: true, payment_intent: null }), NAMESPACE)).toBeUndefined();
  });
});

describe('factVersion', () => {
  it("orders facts by time, then stage, then amount refunded, then event id (the charge path's fact, without one, first)", () => {
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
});

describe('applyPaymentEvent', () => {
  function recorder(orderIdAtStripe?: string) {
    const written: PaymentStatusUpdate[] = [];
    const lookups: string[] = [];
    const apply = createApplyPaymentEvent({
      namespace: NAMESPACE,
      applyStatusUpdate: async (update) => {
        written.push(update);
        return 'applied' as const;
      },
      orderIdForPayment: async (paymentId) => {
        lookups.push(paymentId);
        return orderIdAtStripe === undefined ? undefined : { orderId: orderIdAtStripe, namespace: NAMESPACE };
      },
    });
    return { apply, written, lookups };
  }

  it('asks Stripe for the order of a Charge, which carries no orderId', async () => {
    const { apply, written, lookups } = recorder('order-9');
    const refund = event('charge.refunded', { amount: 3000, amount_refunded: 3000, refunded: true, currency: 'eur', payment_intent: 'pi_9' });
    await expect(apply(refund)).resolves.toBe('applied');
    expect(lookups).toEqual(['pi_9']);
    expect(written[0]).toMatchObject({ orderId: 'order-9', namespace: NAMESPACE, status: 'refunded' });
  });

  it('ignores payments this deployment did not make, even with an orderId, without asking Stripe', async () => {
    const { apply, written, lookups } = recorder(undefined);
    await expect(apply(event('payment_intent.succeeded', { ...intent, metadata: { orderId: 'order-1' } }))).resolves.toBe('ignored');
    // Another deployment of this very service on the same Stripe account.
    await expect(apply(event('payment_intent.succeeded', { ...intent, metadata: paymentMetadata('staging', 'order-1') }))).resolves.toBe('ignored');
    await expect(
      apply(event('charge.refunded', { amount: 1, amount_refunded: 1, payment_intent: 'pi_z', metadata: paymentMetadata('staging', 'z') })),
    ).resolves.toBe('ignored');
    await expect(apply(event('charge.refunded', { amount: 1, amount_refunded: 1, payment_intent: 'pi_x', metadata: { orderId: 'x' } }))).resolves.toBe(
      'ignored',
    );
    await expect(apply(event('charge.refunded', { amount: 1, amount_refunded: 1, payment_intent: 'pi_y' }))).resolves.toBe('ignored');
    await expect(apply(event('invoice.paid', intent))).resolves.toBe('ignored');
    expect(written).toEqual([]);
    expect(lookups).toEqual(['pi_y']);
  });

  it.each(['stale', 'conflict', 'unknown_order'] as const)('passes on what the ledger says: %s', async (verdict) => {
    const apply = createApplyPaymentEvent({ namespace: NAMESPACE, applyStatusUpdate: async () => verdict, orderIdForPayment: async () => undefined });
    await expect(apply(event('payment_intent.succeeded', intent))).resolves.toBe(verdict);
  });
});
