import { assertNamespace, BEFORE_NAMESPACES, paymentMetadata, stripeIdempotencyKey } from '../../lambdas/contract/payment-metadata';
import { ORDER_ID_PATTERN } from '../../lambdas/contract/payment-request';
import { isPaymentOf, ownOrderId } from '../../lambdas/core/payment-ownership';

const order = { orderId: 'order-1', amount: 4200, currency: 'eur' };
const intent = (metadata: Record<string, string>, extra: Record<string, unknown> = {}) => ({ amount: 4200, currency: 'eur', metadata, ...extra });

describe('what this deployment takes as its own at Stripe', () => {
  it('takes a payment with its marker and its namespace', () => {
    expect(ownOrderId('sandbox', intent(paymentMetadata('sandbox', 'order-1')))).toBe('order-1');
    expect(isPaymentOf('sandbox', intent(paymentMetadata('sandbox', 'order-1')), order)).toBe(true);
  });

  it.each([
    ['another system, naming the orderId', { orderId: 'order-1' }],
    ['another deployment of this service', paymentMetadata('staging', 'order-1')],
    ['the marker with a different value', { ...paymentMetadata('sandbox', 'order-1'), createdBy: 'someone-else' }],
    ['an empty orderId', paymentMetadata('sandbox', '')],
  ])('refuses %s', (_case, metadata) => {
    expect(ownOrderId('sandbox', intent(metadata))).toBeUndefined();
    expect(isPaymentOf('sandbox', intent(metadata), order)).toBe(false);
  });

  it('refuses no metadata at all, or metadata that is not an object', () => {
    expect(ownOrderId('sandbox', {})).toBeUndefined();
    expect(ownOrderId('sandbox', { metadata: 'orderId' })).toBeUndefined();
  });

  it.each([
    ['another orderId', { ...order, orderId: 'order-2' }],
    ['another amount', { ...order, amount: 100 }],
    ['another currency', { ...order, currency: 'usd' }],
  ])('does not take its own payment for an order with %s', (_case, other) => {
    expect(isPaymentOf('sandbox', intent(paymentMetadata('sandbox', 'order-1')), other)).toBe(false);
  });
});

describe('Stripe idempotency keys', () => {
  it('are the orderId scoped by the namespace', () => {
    expect(stripeIdempotencyKey('sandbox', 'order-1')).toBe('sandbox:order-1');
    expect(stripeIdempotencyKey('staging', 'order-1')).not.toBe(stripeIdempotencyKey('sandbox', 'order-1'));
  });

  it("stay within Stripe's 255 characters for the longest orderId and namespace, and stay distinct", () => {
    const namespace = 'n'.repeat(160);
    const [a, b] = [`${'a'.repeat(254)}1`, `${'a'.repeat(254)}2`];
    expect(stripeIdempotencyKey(namespace, a).length).toBeLessThanOrEqual(255);
    expect(stripeIdempotencyKey(namespace, a)).toMatch(/^n{160}#[0-9a-f]{64}$/);
    expect(stripeIdempotencyKey(namespace, a)).not.toBe(stripeIdempotencyKey(namespace, b));
  });

  it("never give two orders one key: an orderId cannot spell out another order's hashed key", () => {
    const longOrderId = `o-${'x'.repeat(250)}`;
    const hashed = stripeIdempotencyKey('prod', longOrderId);
    const crafted = hashed.slice('prod#'.length);
    expect(new RegExp(ORDER_ID_PATTERN).test(`sha256:${crafted}`)).toBe(true);
    for (const orderId of [crafted, `sha256:${crafted}`, `#${crafted}`.replace('#', ':')]) {
      expect(stripeIdempotencyKey('prod', orderId)).not.toBe(hashed);
    }
  });

  it('are the bare orderId, and the metadata has no namespace, for orders made before namespaces', () => {
    expect(stripeIdempotencyKey(BEFORE_NAMESPACES, 'order-1')).toBe('order-1');
    expect(paymentMetadata(BEFORE_NAMESPACES, 'order-1')).toEqual({ orderId: 'order-1', createdBy: 'exactly-once-payments' });
    expect(ownOrderId(BEFORE_NAMESPACES, intent(paymentMetadata(BEFORE_NAMESPACES, 'order-1')))).toBe('order-1');
    // A payment of today's namespace is not taken for one made before namespaces, nor the reverse.
    expect(ownOrderId(BEFORE_NAMESPACES, intent(paymentMetadata('sandbox', 'order-1')))).toBeUndefined();
    expect(ownOrderId('sandbox', intent(paymentMetadata(BEFORE_NAMESPACES, 'order-1')))).toBeUndefined();
  });

  it('refuse a namespace that could be confused with part of an orderId', () => {
    expect(() => assertNamespace('a:b')).toThrow(/namespace/);
    expect(() => assertNamespace('a#b')).toThrow(/namespace/);
    expect(() => assertNamespace('')).toThrow(/namespace/);
    expect(() => assertNamespace('n'.repeat(161))).toThrow(/namespace/);
    expect(assertNamespace('ExactlyOncePayments-123456789012-eu-west-1')).toBe('ExactlyOncePayments-123456789012-eu-west-1');
  });
});
