import fc from 'fast-check';
import type Stripe from 'stripe';
import { createLedgerReader } from '../../lambdas/adapters/dynamodb-ledger';
import { stripeRefundIdempotencyKey } from '../../lambdas/contract/payment-metadata';
import { REFUND_IDEMPOTENCY_KEY_PREFIX } from '../../lambdas/contract/settings';
import { createGetPaymentHandler } from '../../lambdas/handlers/get-payment';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { lambdaContext } from '../../local/lambda-context';
import {
  forgetIdempotencyKeys,
  type LocalParts,
  ledgerRecord,
  newOrderId,
  refundEvent,
  refundHandler,
  startLocalParts,
  TEST_NAMESPACE,
} from '../support/local-parts';
import { CHARGED_AMOUNT, chargeOrder, refundsAtStripe as refundsAtStripeOf } from '../support/refunds';

let parts: LocalParts;
let refund: ApiHandler;
beforeAll(async () => {
  parts = await startLocalParts();
  refund = refundHandler(parts);
});
afterAll(() => parts?.stop());
afterEach(() => parts.stripeEmulator.faults.clear());

const AMOUNT = CHARGED_AMOUNT;
const body = (response: { body: string }) => JSON.parse(response.body);
const ask = (orderId: string, request: Record<string, unknown>) => refund(refundEvent(orderId, request), lambdaContext());
const refundKey = (orderId: string, refundId: string) => stripeRefundIdempotencyKey(TEST_NAMESPACE, orderId, refundId);
const refundRequestsTo = (orderId: string, refundId: string) => parts.stripeEmulator.stats().requestsByIdempotencyKey[refundKey(orderId, refundId)] ?? 0;

/** An order charged (or declined) with the payment method, and its PaymentIntent. */
const chargedOrder = (label: string, paymentMethod = 'pm_card_visa') => chargeOrder(parts, newOrderId(label), { paymentMethod });
const refundsAtStripe = (paymentId: string) => refundsAtStripeOf(parts, paymentId);
const succeededSum = (refunds: Stripe.Refund[]) => refunds.filter((r) => r.status === 'succeeded').reduce((sum, r) => sum + r.amount, 0);
const reservedSum = (refunds: Stripe.Refund[]) => refunds.filter((r) => r.status !== 'failed' && r.status !== 'canceled').reduce((sum, r) => sum + r.amount, 0);

describe('POST /payments/{orderId}/refunds against DynamoDB Local and the Stripe emulator', () => {
  it('refunds once with a key and metadata derived from (namespace, orderId, refundId), then replays with Idempotent-Replayed', async () => {
    const { orderId, paymentId } = await chargedOrder('refund');
    const first = await ask(orderId, { refundId: 'r-1', amount: 3000, reason: 'requested_by_customer' });
    expect(first.statusCode).toBe(201);
    expect(body(first)).toEqual({
      orderId,
      refundId: 'r-1',
      amount: 3000,
      currency: 'eur',
      status: 'succeeded',
      stripeRefundId: expect.stringMatching(/^re_/),
    });

    const replay = await ask(orderId, { refundId: 'r-1', amount: 3000, reason: 'requested_by_customer' });
    expect(replay.statusCode).toBe(200);
    expect(replay.headers).toMatchObject({ 'Idempotent-Replayed': 'true' });
    expect(body(replay)).toEqual(body(first));

    const [atStripe] = await refundsAtStripe(paymentId);
    expect(atStripe).toMatchObject({
      id: body(first).stripeRefundId,
      amount: 3000,
      reason: 'requested_by_customer',
      metadata: { orderId, refundId: 'r-1', namespace: TEST_NAMESPACE, createdBy: 'exactly-once-payments' },
    });
    expect(refundRequestsTo(orderId, 'r-1')).toBe(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 3000, refundReserved: 3000 });
  });

  it('replays from the ledger once the key table forgot the refund, and refuses another amount or reason there too', async () => {
    const { orderId } = await chargedOrder('refund-ledger-replay');
    const first = await ask(orderId, { refundId: 'r-1', amount: 2000 });
    expect((await ask(orderId, { refundId: 'r-1', amount: 2500 })).statusCode).toBe(422);
    await forgetIdempotencyKeys(parts, REFUND_IDEMPOTENCY_KEY_PREFIX);

    const replay = await ask(orderId, { refundId: 'r-1', amount: 2000 });
    expect(replay.statusCode).toBe(200);
    expect(body(replay)).toEqual(body(first));
    for (const other of [{ amount: 2500 }, { amount: 2000, reason: 'duplicate' }, {}]) {
      const refused = await ask(orderId, { refundId: 'r-1', ...other });
      expect({ other, status: refused.statusCode, code: body(refused).error.code }).toEqual({ other, status: 422, code: 'idempotency_key_reused' });
    }
    expect(refundRequestsTo(orderId, 'r-1')).toBe(1);
  });

  it('defaults the amount to everything still refundable, and marks the order refunded', async () => {
    const { orderId } = await chargedOrder('refund-rest');
    await ask(orderId, { refundId: 'part', amount: 3000 });
    const rest = await ask(orderId, { refundId: 'rest' });
    expect(rest.statusCode).toBe(201);
    expect(body(rest)).toMatchObject({ amount: AMOUNT - 3000, status: 'succeeded' });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'refunded', amountRefunded: AMOUNT });

    const more = await ask(orderId, { refundId: 'more' });
    expect(more.statusCode).toBe(422);
    expect(body(more).error).toMatchObject({ code: 'refund_exceeds_payment', details: { refundable: 0 } });
  });

  it('answers 422 refund_exceeds_payment for more than is left, without calling Stripe or writing anything', async () => {
    const { orderId } = await chargedOrder('refund-exceeds');
    await ask(orderId, { refundId: 'a', amount: 6000 });
    const before = await ledgerRecord(parts, orderId);
    const refused = await ask(orderId, { refundId: 'b', amount: 4001 });
    expect(refused.statusCode).toBe(422);
    expect(body(refused).error).toMatchObject({ code: 'refund_exceeds_payment', details: { refundable: 4000 } });
    expect(refundRequestsTo(orderId, 'b')).toBe(0);
    expect(await ledgerRecord(parts, orderId)).toEqual(before);
  });

  it('answers 404 for an order never submitted and 409 order_not_refundable for one never charged', async () => {
    const missing = await ask(newOrderId('never'), { refundId: 'r' });
    expect(missing.statusCode).toBe(404);
    expect(body(missing).error.code).toBe('not_found');

    for (const paymentMethod of ['pm_card_chargeDeclined', 'pm_card_authenticationRequired']) {
      const { orderId } = await chargedOrder('not-charged', paymentMethod);
      const refused = await ask(orderId, { refundId: 'r' });
      expect({ paymentMethod, status: refused.statusCode, code: body(refused).error.code }).toEqual({
        paymentMethod,
        status: 409,
        code: 'order_not_refundable',
      });
      expect(refundRequestsTo(orderId, 'r')).toBe(0);
    }
  });

  it('refuses a bad body or orderId with the field that is wrong, and writes nothing', async () => {
    const { orderId } = await chargedOrder('refund-bad');
    const before = await ledgerRecord(parts, orderId);
    const cases: Array<[string, unknown, string]> = [
      [orderId, { refundId: 'r', amount: -1 }, 'amount'],
      [orderId, { refundId: 'r', reason: 'changed_mind' }, 'reason'],
      [orderId, { refundId: 'r', currency: 'eur' }, 'currency'],
      [orderId, '{', 'body'],
      ['bad order id', { refundId: 'r' }, 'orderId'],
    ];
    for (const [id, request, field] of cases) {
      const refused = await refund(refundEvent(id, request), lambdaContext());
      expect({ field, status: refused.statusCode, fields: body(refused).error.details.map((d: { field: string }) => d.field) }).toEqual({
        field,
        status: 400,
        fields: [field],
      });
    }
    expect(await ledgerRecord(parts, orderId)).toEqual(before);
  });

  it('GET /payments/{orderId} shows amountRefunded (succeeded refunds) and every refund', async () => {
    const { orderId } = await chargedOrder('refund-get');
    const first = body(await ask(orderId, { refundId: 'r-1', amount: 1000 }));
    await ask(orderId, { refundId: 'r-2', amount: 500 });
    const read = createGetPaymentHandler(createLedgerReader(parts.dynamoDb, parts.tables.ledgerTableName));
    const shown = body(await read({ pathParameters: { orderId } } as never, lambdaContext()));
    expect(shown).toMatchObject({
      status: 'partially_refunded',
      amountRefunded: 1500,
      refunds: [
        { refundId: 'r-1', amount: 1000, status: 'succeeded', stripeRefundId: first.stripeRefundId },
        { refundId: 'r-2', amount: 500, status: 'succeeded', stripeRefundId: expect.stringMatching(/^re_/) },
      ],
    });
  });
});

describe('concurrent refunds', () => {
  it('10 identical refund requests at once make one Stripe refund; the others wait (409 + Retry-After) or replay it', async () => {
    const { orderId, paymentId } = await chargedOrder('refund-storm');
    parts.stripeEmulator.faults.setLatency(200);
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask(orderId, { refundId: 'same', amount: 2500 })));
    parts.stripeEmulator.faults.setLatency(0);
    expect(await refundsAtStripe(paymentId)).toHaveLength(1);
    const [first] = answers.filter((a) => a.statusCode === 201);
    expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(1);
    for (const answer of answers) {
      if (answer.statusCode === 409) expect(answer.headers).toMatchObject({ 'Retry-After': expect.any(String) });
      else expect(body(answer)).toEqual(body(first));
    }
  });

  it('10 different refundIds of 30 % each at once: at most 3 reach Stripe, the rest answer 422 refund_exceeds_payment', async () => {
    const { orderId, paymentId } = await chargedOrder('refund-race');
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(orderId, { refundId: `r-${i}`, amount: AMOUNT * 0.3 })));
    const refunded = answers.filter((a) => a.statusCode === 201);
    expect(refunded).toHaveLength(3);
    for (const answer of answers.filter((a) => a.statusCode !== 201)) expect(body(answer).error.code).toBe('refund_exceeds_payment');
    const atStripe = await refundsAtStripe(paymentId);
    expect(atStripe).toHaveLength(3);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ amountRefunded: 9000, refundReserved: 9000 });
  });

  it('random concurrent refunds never over-refund, and the ledger ends equal to Stripe (property)', async () => {
    const refundRequest = fc.record({ amount: fc.option(fc.integer({ min: 1, max: AMOUNT }), { nil: undefined }), repeats: fc.integer({ min: 1, max: 2 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(refundRequest, { minLength: 1, maxLength: 6 }), async (requests) => {
        const { orderId, paymentId } = await chargedOrder('refund-property');
        const calls = requests.flatMap(({ amount, repeats }, i) =>
          Array.from({ length: repeats }, () => ask(orderId, { refundId: `p-${i}`, ...(amount !== undefined && { amount }) })),
        );
        const answers = await Promise.all(calls);
        const atStripe = await refundsAtStripe(paymentId);
        const record = await ledgerRecord(parts, orderId);
        expect(reservedSum(atStripe)).toBeLessThanOrEqual(AMOUNT);
        expect(new Set(atStripe.map((r) => r.metadata?.refundId)).size).toBe(atStripe.length);
        expect(record?.amountRefunded ?? 0).toBe(succeededSum(atStripe));
        expect(record?.refundReserved ?? 0).toBe(reservedSum(atStripe));
        // Every answer is a contract answer: 201/200 for a refund Stripe has, or a refusal that charged nothing.
        for (const answer of answers) expect([200, 201, 409, 422]).toContain(answer.statusCode);
      }),
      { numRuns: 12 },
    );
  });
});

describe('Stripe failing, refusing, or losing its answer', () => {
  it('Stripe unavailable: 502, the amount stays reserved, and the same request later finishes the same refund', async () => {
    const { orderId, paymentId } = await chargedOrder('refund-down');
    parts.stripeEmulator.faults.failNext(3, 500);
    const failed = await ask(orderId, { refundId: 'r', amount: 4000 });
    expect(failed.statusCode).toBe(502);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ refundReserved: 4000, refunds: { r: { status: 'requested', amount: 4000 } } });
    // What is reserved is not refundable meanwhile.
    expect((await ask(orderId, { refundId: 'other', amount: 6001 })).statusCode).toBe(422);

    const retried = await ask(orderId, { refundId: 'r', amount: 4000 });
    expect(retried.statusCode).toBe(201);
    expect(await refundsAtStripe(paymentId)).toHaveLength(1);
  });

  it('the answer lost after Stripe refunded: the retry gets the same refund back with the same key, never a second one', async () => {
    const { orderId, paymentId } = await chargedOrder('refund-lost');
    parts.stripeEmulator.faults.dropNextResponses(3);
    expect((await ask(orderId, { refundId: 'r', amount: 4000 })).statusCode).toBe(502);
    const retried = await ask(orderId, { refundId: 'r', amount: 4000 });
    expect(retried.statusCode).toBe(201);
    const atStripe = await refundsAtStripe(paymentId);
    expect(atStripe).toHaveLength(1);
    expect(body(retried).stripeRefundId).toBe(atStripe[0].id);
    expect(refundRequestsTo(orderId, 'r')).toBeGreaterThan(1);
  });

  it('Stripe refusing (refunded behind our back) releases the reservation and answers 422 refund_exceeds_payment', async () => {
    const { orderId, paymentId } = await chargedOrder('refund-refused');
    await parts.stripe.refunds.create({ payment_intent: paymentId });
    const refused = await ask(orderId, { refundId: 'r', amount: 1000 });
    expect(refused.statusCode).toBe(422);
    expect(body(refused).error.code).toBe('refund_exceeds_payment');
    const record = await ledgerRecord(parts, orderId);
    expect(record?.refunds ?? {}).toEqual({});
    expect(record?.refundReserved ?? 0).toBe(0);
  });
});
