import { createApplyPaymentEvent, factVersion, statusUpdateFrom, type PaymentEvent, type PaymentStatusUpdate } from '../../lambdas/core/payment-events';

const intent = { id: 'pi_1', object: 'payment_intent', amount: 3000, currency: 'eur', status: 'succeeded', metadata: { orderId: 'order-1' } };
const event = (type: string, object: Record<string, unknown>, created = 1_800_000_000): PaymentEvent => ({ id: `evt_${type}`, type, created, data: { object } });

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
      { id: 'ch_1', object: 'charge', amount: 3000, amount_refunded: 3000, currency: 'eur', payment_intent: 'pi_1' },
      { status: 'refunded', amountRefunded: 3000, paymentId: 'pi_1', orderId: undefined },
    ],
    [
      'charge.refunded',
      { id: 'ch_1', object: 'charge', amount: 3000, amount_refunded: 1000, currency: 'eur', payment_intent: 'pi_1' },
      { status: 'partially_refunded', amountRefunded: 1000 },
    ],
  ])('reads %s as a ledger fact', (type, object, expected) => {
    expect(statusUpdateFrom(event(type, object))).toMatchObject(expected);
  });

  it.each(['payment_intent.created', 'customer.created', 'charge.succeeded'])('has no fact for %s', (type) => {
    expect(statusUpdateFrom(event(type, intent))).toBeUndefined();
  });
});

describe('factVersion', () => {
  it('orders facts by time first, then by how far along the payment is, then by the amount refunded', () => {
    const ordered = [
      factVersion(100, 'charged'),
      factVersion(100, 'partially_refunded', 500),
      factVersion(100, 'partially_refunded', 1500),
      factVersion(100, 'refunded', 3000),
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
      applyStatusUpdate: async (update) => (written.push(update), true),
      orderIdForPayment: async (paymentId) => (lookups.push(paymentId), orderIdAtStripe),
    });
    return { apply, written, lookups };
  }

  it('asks Stripe for the order of a Charge, which carries no orderId', async () => {
    const { apply, written, lookups } = recorder('order-9');
    const refund = event('charge.refunded', { amount: 3000, amount_refunded: 3000, currency: 'eur', payment_intent: 'pi_9' });
    await expect(apply(refund)).resolves.toBe('applied');
    expect(lookups).toEqual(['pi_9']);
    expect(written[0]).toMatchObject({ orderId: 'order-9', status: 'refunded' });
  });

  it('ignores payments this service did not start, and unknown types', async () => {
    const { apply, written } = recorder(undefined);
    await expect(apply(event('charge.refunded', { amount: 1, amount_refunded: 1, payment_intent: 'pi_x' }))).resolves.toBe('ignored');
    await expect(apply(event('invoice.paid', intent))).resolves.toBe('ignored');
    expect(written).toEqual([]);
  });

  it('reports a fact the ledger already has a newer one for as stale', async () => {
    const apply = createApplyPaymentEvent({ applyStatusUpdate: async () => false, orderIdForPayment: async () => undefined });
    await expect(apply(event('payment_intent.succeeded', intent))).resolves.toBe('stale');
  });
});
