import type { ChargeRequest } from '../../lambdas/contract/payment-request';
import {
  createChargeOrder,
  type LedgerRecord,
  type OrderChannel,
  type OrderOrigin,
  type PaymentAttempt,
  type PaymentProvider,
  type PaymentsLedger,
  type PersonalDataStore,
  pendingRecordOf,
} from '../../lambdas/core/charge-order';
import {
  OrderConflictError,
  PaymentInProgressError,
  PaymentProviderError,
  PaymentProviderRateLimitedError,
  PaymentRejectedError,
} from '../../lambdas/core/errors';
import { type PaymentIntentCreate, type PersonalData, paymentIntentCreateOf } from '../../lambdas/core/stripe-requests';

/** An in-memory ledger with the same conditional semantics as the DynamoDB one. */
class FakeLedger implements PaymentsLedger {
  readonly records = new Map<string, LedgerRecord>();

  async createPendingOrGet(pending: LedgerRecord) {
    const existing = this.records.get(pending.orderId);
    if (existing) return { ...existing };
    this.records.set(pending.orderId, { ...pending });
    return undefined;
  }

  async markAttempt(orderId: string, channel: OrderChannel, now: string, attemptId: string) {
    const record = this.records.get(orderId);
    if (!record) return undefined;
    if (record.status === 'pending' || record.status === 'expired')
      Object.assign(record, { status: 'pending', attemptAt: now, attemptId, updatedAt: now, channel: record.channel ?? channel });
    return { ...record };
  }

  async releasePending(orderId: string, attemptId?: string) {
    const record = this.records.get(orderId);
    if (record?.status === 'pending' && (attemptId === undefined || record.attemptId === attemptId)) this.records.delete(orderId);
  }

  async finalize(orderId: string, attempt: PaymentAttempt, now: string) {
    const record = this.records.get(orderId);
    if (!record) throw new Error('no record');
    const { status, paymentId, paymentStatus, declineCode } = attempt;
    if (record.status === 'pending' || record.status === 'expired') Object.assign(record, { status, paymentId, paymentStatus, declineCode, updatedAt: now });
    return { ...record };
  }
}

/** Personal data kept in memory as the key table keeps it: first wins, unless replacing. */
class FakePersonalData implements PersonalDataStore {
  readonly kept = new Map<string, PersonalData>();
  async keep(namespace: string, orderId: string, data: PersonalData, replacing: boolean) {
    const key = `${namespace}:${orderId}`;
    if (replacing || !this.kept.has(key)) this.kept.set(key, data);
    return this.kept.get(key) as PersonalData;
  }
  async forget(namespace: string, orderId: string) {
    this.kept.delete(`${namespace}:${orderId}`);
  }
}

class FakeStripe implements PaymentProvider {
  calls: PaymentIntentCreate[] = [];
  lookups: string[] = [];
  constructor(
    private readonly answer: () => PaymentAttempt = () => ({ status: 'charged', paymentId: 'pi_1', paymentStatus: 'succeeded' }),
    private readonly existing?: PaymentAttempt,
  ) {}
  async createPayment(create: PaymentIntentCreate) {
    this.calls.push(create);
    return this.answer();
  }
  secretsAsked: string[] = [];
  async clientSecretOf(paymentId: string) {
    this.secretsAsked.push(paymentId);
    return `${paymentId}_secret_from_stripe`;
  }
  async findPayment(order: ChargeRequest, _namespace: string) {
    this.lookups.push(order.orderId);
    return this.existing;
  }
}

const order: ChargeRequest = { orderId: 'order-1', amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa' };
const clock = () => new Date('2026-11-27T12:00:00Z');
const origin: OrderOrigin = { channel: 'api', namespace: 'test' };

describe('chargeOrder', () => {
  it('creates a pending record, charges once and finalizes the ledger', async () => {
    const ledger = new FakeLedger();
    const stripe = new FakeStripe();
    const result = await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })(order);
    expect(result).toEqual({
      orderId: 'order-1',
      status: 'charged',
      amount: 1999,
      currency: 'eur',
      paymentId: 'pi_1',
      paymentStatus: 'succeeded',
      declineCode: null,
      clientSecret: null,
      replayed: false,
    });
    expect(stripe.calls).toEqual([paymentIntentCreateOf(pendingRecordOf(order, origin, clock().toISOString()))]);
    expect(ledger.records.get('order-1')).toMatchObject({ status: 'charged', paymentId: 'pi_1' });
  });

  it('returns an order the ledger already holds as final without calling Stripe', async () => {
    const ledger = new FakeLedger();
    const stripe = new FakeStripe();
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock });
    await chargeOrder(order);
    const again = await chargeOrder(order);
    expect(again).toMatchObject({ status: 'charged', paymentId: 'pi_1', replayed: true });
    expect(stripe.calls).toHaveLength(1);
  });

  it('finishes a pending order left by a crash (Stripe answers with the same PaymentIntent)', async () => {
    const ledger = new FakeLedger();
    await ledger.createPendingOrGet(pendingRecordOf(order, origin, clock().toISOString()));
    const stripe = new FakeStripe();
    const result = await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })(order);
    expect(result).toMatchObject({ status: 'charged', replayed: false });
    expect(stripe.calls).toHaveLength(1);
  });

  it.each([
    ['amount', { amount: 2000 }],
    ['currency', { currency: 'usd' }],
    ['paymentMethod', { paymentMethod: 'pm_card_mastercard' }],
    ['customerId', { customerId: 'cus_9' }],
  ])('refuses the same orderId with another %s and calls nobody', async (field, change) => {
    const ledger = new FakeLedger();
    const stripe = new FakeStripe();
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock });
    await chargeOrder(order);
    const attempt = chargeOrder({ ...order, ...change });
    await expect(attempt).rejects.toBeInstanceOf(OrderConflictError);
    await expect(attempt).rejects.toMatchObject({ conflictingFields: [field] });
    expect(stripe.calls).toHaveLength(1);
    expect(ledger.records.get('order-1')).toMatchObject({ amount: 1999, currency: 'eur', status: 'charged' });
  });

  it('treats a changed description as the same payment', async () => {
    const ledger = new FakeLedger();
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: new FakeStripe(), origin, now: clock });
    await chargeOrder(order);
    await expect(chargeOrder({ ...order, description: 'gift' })).resolves.toMatchObject({ replayed: true });
  });

  it('records a decline as a final result and replays it without calling Stripe again', async () => {
    const ledger = new FakeLedger();
    const stripe = new FakeStripe(() => ({ status: 'declined', paymentId: 'pi_2', paymentStatus: 'requires_payment_method', declineCode: 'generic_decline' }));
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock });
    await expect(chargeOrder(order)).resolves.toMatchObject({ status: 'declined', declineCode: 'generic_decline', replayed: false });
    await expect(chargeOrder(order)).resolves.toMatchObject({ status: 'declined', declineCode: 'generic_decline', replayed: true });
    expect(stripe.calls).toHaveLength(1);
  });

  it.each([
    ['unavailable', new PaymentProviderError('down', true)],
    ['rate limiting', new PaymentProviderRateLimitedError('global-rate')],
  ])('leaves the order pending when Stripe is %s, so a retry charges it', async (_case, failure) => {
    const ledger = new FakeLedger();
    let available = false;
    const stripe = new FakeStripe(() => {
      if (!available) throw failure;
      return { status: 'charged', paymentId: 'pi_3', paymentStatus: 'succeeded' };
    });
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock });
    await expect(chargeOrder(order)).rejects.toBe(failure);
    expect(ledger.records.get('order-1')?.status).toBe('pending');
    available = true;
    await expect(chargeOrder(order)).resolves.toMatchObject({ status: 'charged', paymentId: 'pi_3' });
  });

  it('answers in steps as soon as Stripe has, the ledger write in flight; called whole, only once that write is done', async () => {
    const ledger = new FakeLedger();
    let finishWrite!: () => void;
    const writeDone = new Promise<void>((resolve) => (finishWrite = resolve));
    const slowLedger: PaymentsLedger = {
      createPendingOrGet: (pending) => ledger.createPendingOrGet(pending),
      markAttempt: (...args) => ledger.markAttempt(...args),
      releasePending: (...args) => ledger.releasePending(...args),
      finalize: async (...args) => {
        await writeDone;
        return ledger.finalize(...args);
      },
    };
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger: slowLedger, payments: new FakeStripe(), origin, now: clock });
    const { result, recorded } = await chargeOrder.chargeOpened(order, await chargeOrder.open(order).opened);
    expect(result).toMatchObject({ status: 'charged', paymentId: 'pi_1', replayed: false });
    expect(ledger.records.get(order.orderId)?.status).toBe('pending');

    const whole = chargeOrder({ ...order, orderId: 'order-2' });
    let wholeAnswered = false;
    void whole.then(() => (wholeAnswered = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(wholeAnswered).toBe(false);
    finishWrite();
    await Promise.all([recorded, whole]);
    expect(ledger.records.get(order.orderId)?.status).toBe('charged');
    expect(ledger.records.get('order-2')?.status).toBe('charged');
  });

  it('withdraws only a record its own open wrote, and only while untouched', async () => {
    const ledger = new FakeLedger();
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: new FakeStripe(), origin, now: clock });
    const first = chargeOrder.open(order);
    await first.opened;
    const second = chargeOrder.open(order);
    await second.opened;
    await chargeOrder.withdraw(second.pending); // it wrote nothing: the record stays
    expect(ledger.records.has(order.orderId)).toBe(true);
    await ledger.markAttempt(order.orderId, 'api', '2026-11-27T12:00:01.000Z', 'a-charge');
    await chargeOrder.withdraw(first.pending); // taken up by a charge since: it stays
    expect(ledger.records.has(order.orderId)).toBe(true);

    const untouched = chargeOrder.open({ ...order, orderId: 'order-3' });
    await untouched.opened;
    await chargeOrder.withdraw(untouched.pending);
    expect(ledger.records.has('order-3')).toBe(false);
  });

  it("sends no withdrawal when open's answer was another attempt's record, and one when the answer was lost", async () => {
    const ledger = new FakeLedger();
    const released: Array<string | undefined> = [];
    const counting: PaymentsLedger = {
      createPendingOrGet: (pending) => ledger.createPendingOrGet(pending),
      markAttempt: (...args) => ledger.markAttempt(...args),
      finalize: (...args) => ledger.finalize(...args),
      releasePending: async (_orderId, attemptId) => void released.push(attemptId),
    };
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger: counting, payments: new FakeStripe(), origin, now: clock });
    await chargeOrder.open(order).opened;
    const refused = chargeOrder.open(order);
    await chargeOrder.withdraw(refused.pending, await refused.opened); // someone else's record came back: nothing of ours to withdraw
    expect(released).toEqual([]);
    await chargeOrder.withdraw(refused.pending); // the answer was lost: ours may have landed
    expect(released).toEqual([refused.pending.attemptId]);
  });

  it('waits for a pending record of another payment to be withdrawn, then charges its own', async () => {
    const ledger = new FakeLedger();
    const waits: number[] = [];
    const stranger = pendingRecordOf({ ...order, amount: 1 }, origin, clock().toISOString());
    await ledger.createPendingOrGet(stranger);
    const pause = async (ms: number) => {
      waits.push(ms);
      if (waits.length === 2) await ledger.releasePending(order.orderId, stranger.attemptId); // withdrawn while it waits
    };
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: new FakeStripe(), origin, now: clock, pause });
    await expect(chargeOrder(order)).resolves.toMatchObject({ status: 'charged', amount: order.amount });
    expect(waits).toHaveLength(2);
    expect(ledger.records.get(order.orderId)).toMatchObject({ status: 'charged', amount: order.amount });
  });

  it('answers "in progress" (retry later), not a refusal, when a pending record of another payment outlasts the wait', async () => {
    const ledger = new FakeLedger();
    await ledger.createPendingOrGet(pendingRecordOf({ ...order, amount: 1 }, origin, clock().toISOString()));
    const stripe = new FakeStripe();
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock, pause: async () => undefined });
    await expect(chargeOrder(order)).rejects.toThrow(PaymentInProgressError);
    expect(stripe.calls).toHaveLength(0);
    // Once that payment is final, the order is refused as another payment under the same orderId.
    await ledger.finalize(order.orderId, { status: 'declined', paymentId: 'pi_other' }, clock().toISOString());
    await expect(chargeOrder(order)).rejects.toThrow(OrderConflictError);
  });

  it('returns what the ledger holds when a concurrent call finalized first', async () => {
    const ledger = new FakeLedger();
    const stripe = new FakeStripe(() => {
      // another execution finishes the order while this one waits on Stripe
      Object.assign(ledger.records.get('order-1') as LedgerRecord, { status: 'charged', paymentId: 'pi_first' });
      return { status: 'charged', paymentId: 'pi_first', paymentStatus: 'succeeded' };
    });
    const result = await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })(order);
    expect(result.paymentId).toBe('pi_first');
  });

  it('resumes a pending order with the parameters first sent to Stripe, whatever the retry says', async () => {
    const ledger = new FakeLedger();
    await ledger.createPendingOrGet(pendingRecordOf({ ...order, description: 'first' }, origin, clock().toISOString()));
    const stripe = new FakeStripe();
    await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })({ ...order, description: 'second' });
    expect(stripe.calls.map(({ params }) => params.description)).toEqual(['first']);
  });

  it('resumes a pending order stored with an empty description (before empty meant none) without sending one', async () => {
    const ledger = new FakeLedger();
    await ledger.createPendingOrGet({ ...pendingRecordOf(order, origin, clock().toISOString()), description: '' });
    const stripe = new FakeStripe();
    const result = await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })(order);
    expect(result.status).toBe('charged');
    expect(stripe.calls.map(({ params }) => 'description' in params)).toEqual([false]);
  });

  describe('personal data (receiptEmail)', () => {
    const withEmail = { ...order, receiptEmail: 'jane@example.com' };
    const charge = (ledger: FakeLedger, stripe: FakeStripe, personalData: FakePersonalData) =>
      createChargeOrder({ ledger, payments: stripe, personalData, origin, now: clock });

    it('is sent to Stripe from the key table and never written to the ledger', async () => {
      const [ledger, stripe, personalData] = [new FakeLedger(), new FakeStripe(), new FakePersonalData()];
      await charge(ledger, stripe, personalData)(withEmail);
      expect(stripe.calls.map(({ params }) => params.receipt_email)).toEqual(['jane@example.com']);
      expect(JSON.stringify(ledger.records.get(order.orderId))).not.toContain('jane@example.com');
      expect([...personalData.kept.values()]).toEqual([{ receiptEmail: 'jane@example.com' }]);
    });

    it('resumes with the address first kept, whatever the retry says', async () => {
      const [ledger, personalData] = [new FakeLedger(), new FakePersonalData()];
      await ledger.createPendingOrGet(pendingRecordOf(withEmail, origin, clock().toISOString()));
      await personalData.keep(origin.namespace, order.orderId, { receiptEmail: 'jane@example.com' }, true);
      const stripe = new FakeStripe();
      await charge(ledger, stripe, personalData)({ ...withEmail, receiptEmail: 'other@example.com' });
      expect(stripe.calls.map(({ params }) => params.receipt_email)).toEqual(['jane@example.com']);
    });

    it('is sent as corrected after Stripe refused the first request, whose record was released', async () => {
      const [ledger, personalData] = [new FakeLedger(), new FakePersonalData()];
      let refusals = 1;
      const stripe = new FakeStripe(() => {
        if (refusals-- > 0) throw new PaymentRejectedError('receiptEmail', 'email_invalid');
        return { status: 'charged', paymentId: 'pi_1', paymentStatus: 'succeeded' };
      });
      await expect(charge(ledger, stripe, personalData)({ ...withEmail, receiptEmail: 'jane@example' })).rejects.toBeInstanceOf(PaymentRejectedError);
      await charge(ledger, stripe, personalData)(withEmail);
      expect(stripe.calls.map(({ params }) => params.receipt_email)).toEqual(['jane@example', 'jane@example.com']);
    });

    it('is not sent on the resume of an order first made without it (Stripe would refuse other parameters)', async () => {
      const [ledger, personalData] = [new FakeLedger(), new FakePersonalData()];
      await ledger.createPendingOrGet(pendingRecordOf(order, origin, clock().toISOString()));
      const stripe = new FakeStripe();
      await charge(ledger, stripe, personalData)(withEmail);
      expect(stripe.calls.map(({ params }) => 'receipt_email' in params)).toEqual([false]);
      expect(personalData.kept.size).toBe(0);
    });

    it('is kept from the retry when the first call crashed before keeping it (Stripe never saw that call)', async () => {
      const [ledger, personalData] = [new FakeLedger(), new FakePersonalData()];
      await ledger.createPendingOrGet(pendingRecordOf(withEmail, origin, clock().toISOString()));
      const stripe = new FakeStripe();
      await charge(ledger, stripe, personalData)(withEmail);
      expect(stripe.calls.map(({ params }) => params.receipt_email)).toEqual(['jane@example.com']);
    });
  });

  it("trusts Stripe's key for a day, then looks the PaymentIntent up instead of creating another", async () => {
    const ledger = new FakeLedger();
    await ledger.createPendingOrGet(pendingRecordOf(order, origin, '2026-11-26T12:00:00Z')); // 24 h before the clock
    const stripe = new FakeStripe(undefined, { status: 'charged', paymentId: 'pi_found', paymentStatus: 'succeeded' });
    const result = await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })(order);
    expect(result).toMatchObject({ status: 'charged', paymentId: 'pi_found' });
    expect(stripe.lookups).toEqual(['order-1']);
    expect(stripe.calls).toHaveLength(0);
  });

  it('creates the PaymentIntent after a day when Stripe has none for the order', async () => {
    const ledger = new FakeLedger();
    await ledger.createPendingOrGet(pendingRecordOf(order, origin, '2026-11-26T12:00:00Z'));
    const stripe = new FakeStripe();
    await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })(order);
    expect(stripe.lookups).toEqual(['order-1']);
    expect(stripe.calls).toHaveLength(1);
  });

  it('does not look up a pending order younger than a day: the idempotency key still covers it', async () => {
    const ledger = new FakeLedger();
    await ledger.createPendingOrGet(pendingRecordOf(order, origin, '2026-11-27T11:00:00Z'));
    const stripe = new FakeStripe();
    await createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock })(order);
    expect(stripe.lookups).toEqual([]);
  });

  it('frees the orderId when Stripe refuses the payment as made, so a corrected request can charge it', async () => {
    const ledger = new FakeLedger();
    let refuse = true;
    const stripe = new FakeStripe(() => {
      if (refuse) throw new PaymentRejectedError('paymentMethod', 'resource_missing');
      return { status: 'charged', paymentId: 'pi_4', paymentStatus: 'succeeded' };
    });
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock });
    await expect(chargeOrder({ ...order, paymentMethod: 'pm_unknown' })).rejects.toBeInstanceOf(PaymentRejectedError);
    expect(ledger.records.has('order-1')).toBe(false);
    refuse = false;
    await expect(chargeOrder(order)).resolves.toMatchObject({ status: 'charged', paymentId: 'pi_4' });
  });

  it('replays a payment that needs the customer from the ledger even while Stripe is down (without the secret), and never asks for the worker', async () => {
    for (const [channel, asked] of [
      ['api', ['pi_6']],
      ['queue', []],
    ] as const) {
      const ledger = new FakeLedger();
      await ledger.createPendingOrGet(pendingRecordOf(order, { channel, namespace: 'test' }, clock().toISOString()));
      await ledger.finalize('order-1', { status: 'requires_action', paymentId: 'pi_6', paymentStatus: 'requires_payment_method' }, clock().toISOString());
      const stripe = new FakeStripe();
      const secretsAsked: string[] = [];
      stripe.clientSecretOf = async (paymentId: string) => {
        secretsAsked.push(paymentId);
        throw new PaymentProviderError('down', true);
      };
      const chargeOrder = createChargeOrder({
        personalData: new FakePersonalData(),
        ledger,
        payments: stripe,
        origin: { channel, namespace: 'test' },
        now: clock,
      });
      await expect(chargeOrder(order)).resolves.toMatchObject({ status: 'requires_action', replayed: true, clientSecret: null });
      expect(secretsAsked).toEqual(asked);
    }
  });

  it('hands out the client secret of a payment that needs the customer', async () => {
    const ledger = new FakeLedger();
    const stripe = new FakeStripe(() => ({
      status: 'requires_action',
      paymentId: 'pi_5',
      paymentStatus: 'requires_payment_method',
      clientSecret: 'pi_5_secret',
    }));
    const chargeOrder = createChargeOrder({ personalData: new FakePersonalData(), ledger, payments: stripe, origin, now: clock });
    await expect(chargeOrder(order)).resolves.toMatchObject({ status: 'requires_action', clientSecret: 'pi_5_secret' });
    expect(ledger.records.get('order-1')).not.toHaveProperty('clientSecret');
    // The ledger never keeps it: a replay from the ledger asks Stripe for it again.
    await expect(chargeOrder(order)).resolves.toMatchObject({ replayed: true, clientSecret: 'pi_5_secret_from_stripe' });
    expect(stripe.secretsAsked).toEqual(['pi_5']);
    expect(stripe.calls).toHaveLength(1);
  });
});
