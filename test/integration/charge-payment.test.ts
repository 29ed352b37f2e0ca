import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createIdempotentCharge } from '../../lambdas/adapters/idempotent-charge';
import { createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { createChargeOrder, type PaymentsLedger } from '../../lambdas/core/charge-order';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { localDynamoDbClient, startDynamoDbLocal } from '../../local/dynamodb-local';
import { createTables } from '../../local/tables';
import { lambdaContext } from '../../local/lambda-context';
import {
  chargeHandler,
  forgetIdempotencyKeys,
  ledgerRecord,
  ledgerRecordsFor,
  newOrderId,
  post,
  postEvent,
  silentLogger,
  startLocalParts,
  stripeRequestsFor,
  type LocalParts,
} from '../support/local-parts';

let parts: LocalParts;
beforeAll(async () => {
  parts = await startLocalParts();
});
afterAll(() => parts?.stop());
afterEach(() => parts.stripeEmulator.faults.clear());

const order = (orderId: string, extra: Record<string, unknown> = {}) => ({
  orderId,
  amount: 4200,
  currency: 'EUR',
  paymentMethod: 'pm_card_visa',
  ...extra,
});
const body = (response: { body: string }) => JSON.parse(response.body);

describe('POST /payments against DynamoDB Local and the Stripe emulator', () => {
  it('charges once, then replays the stored result with Idempotent-Replayed', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('replay');
    const first = await post(handler, order(orderId));
    const second = await post(handler, order(orderId));

    expect(first.statusCode).toBe(201);
    expect(body(first)).toMatchObject({ orderId, amount: 4200, currency: 'eur', paymentStatus: 'succeeded', status: 'charged' });
    expect(second.statusCode).toBe(200);
    expect(second.headers).toMatchObject({ 'Idempotent-Replayed': 'true' });
    expect(body(second)).toEqual({ ...body(first), status: 'already_processed' });
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(stripeRequestsFor(parts, orderId)).toBe(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: body(first).paymentId, amount: 4200 });
  });

  it('50 concurrent identical requests make one PaymentIntent, one ledger record and no 5xx', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('storm');
    parts.stripeEmulator.faults.setLatency(200); // keep the first charge in flight while the others arrive
    const responses = await Promise.all(Array.from({ length: 50 }, () => post(handler, order(orderId))));
    const statuses = responses.map((response) => response.statusCode);

    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.every((status) => [200, 201, 409].includes(status))).toBe(true);
    expect(responses.filter((r) => r.statusCode === 409).every((r) => r.headers?.['Retry-After'] === '2')).toBe(true);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(await ledgerRecordsFor(parts, orderId)).toBe(1);
  });

  it('refuses the same orderId with another amount (422) and changes nothing', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('reuse');
    await post(handler, order(orderId));
    const before = await ledgerRecord(parts, orderId);
    const reused = await post(handler, order(orderId, { amount: 9999 }));

    expect(reused.statusCode).toBe(422);
    expect(body(reused).error.code).toBe('idempotency_key_reused');
    expect(await ledgerRecord(parts, orderId)).toEqual(before);
    expect(stripeRequestsFor(parts, orderId)).toBe(1);
  });

  it('answers a decline with 402 twice while asking Stripe once', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('decline');
    const first = await post(handler, order(orderId, { paymentMethod: 'pm_card_chargeDeclined' }));
    const second = await post(handler, order(orderId, { paymentMethod: 'pm_card_chargeDeclined' }));

    expect([first.statusCode, second.statusCode]).toEqual([402, 402]);
    expect(body(first).error).toMatchObject({ code: 'card_declined', details: { declineCode: 'generic_decline' } });
    expect(body(second)).toEqual(body(first));
    expect(stripeRequestsFor(parts, orderId)).toBe(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'declined', declineCode: 'generic_decline' });
  });

  it('answers 502 while Stripe fails, stores no result, and charges once when the client retries', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('stripe-5xx');
    parts.stripeEmulator.faults.failNext(3, 503); // the SDK's first try and both of its retries

    const failed = await post(handler, order(orderId));
    expect(failed.statusCode).toBe(502);
    expect(body(failed).error.code).toBe('payment_provider_unavailable');
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'pending' });
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(0);

    const retried = await post(handler, order(orderId));
    expect(retried.statusCode).toBe(201);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged' });
  });

  it('charges once when Stripe charged but its answer was lost (the SDK retries with the same key)', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('lost-answer');
    parts.stripeEmulator.faults.dropNextResponses(1);

    const response = await post(handler, order(orderId));
    expect(response.statusCode).toBe(201);
    expect(stripeRequestsFor(parts, orderId)).toBe(2);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
  });

  it('does not charge an order again after the key table forgot it: the ledger remembers', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('ledger-only');
    const first = await post(handler, order(orderId));
    expect(await forgetIdempotencyKeys(parts)).toBeGreaterThan(0);

    const again = await post(handler, order(orderId));
    expect(again.statusCode).toBe(200);
    expect(body(again)).toMatchObject({ status: 'already_processed', paymentId: body(first).paymentId });
    expect(stripeRequestsFor(parts, orderId)).toBe(1);
  });

  it('still refuses another amount after the key table forgot the order', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('ledger-reuse');
    await post(handler, order(orderId));
    await forgetIdempotencyKeys(parts);

    const reused = await post(handler, order(orderId, { amount: 1 }));
    expect(reused.statusCode).toBe(422);
    expect(stripeRequestsFor(parts, orderId)).toBe(1);
  });

  it('recovers from a crash after the Stripe call: the retry makes no second PaymentIntent', async () => {
    const orderId = newOrderId('crash');
    const ledger = createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName);
    let reachedFinalize!: () => void;
    const crashed = new Promise<void>((resolve) => (reachedFinalize = resolve));
    // The process "dies" between Stripe's answer and the ledger update: finalize never returns.
    const dyingLedger: PaymentsLedger = {
      createPendingOrGet: (o, now) => ledger.createPendingOrGet(o, now),
      finalize: () => {
        reachedFinalize();
        return new Promise(() => undefined);
      },
    };
    const dyingCharge = createIdempotentCharge({
      chargeOrder: createChargeOrder({ ledger: dyingLedger, payments: createStripePayments(async () => parts.stripe) }),
      dynamoDb: parts.dynamoDb,
      tableName: parts.tables.idempotencyTableName,
    });
    const remainingMs = 1_000; // the in-progress lock lasts as long as the Lambda had left
    void createChargePaymentHandler(dyingCharge, silentLogger)(postEvent(order(orderId)), lambdaContext(remainingMs));
    await crashed;
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);

    const handler = chargeHandler(parts);
    expect((await post(handler, order(orderId))).statusCode).toBe(409); // the lock still holds
    await new Promise((resolve) => setTimeout(resolve, remainingMs + 100));

    const retried = await post(handler, order(orderId));
    expect(retried.statusCode).toBe(201);
    expect(stripeRequestsFor(parts, orderId)).toBe(2);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(await ledgerRecordsFor(parts, orderId)).toBe(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: body(retried).paymentId });
  });

  it('creates an unconfirmed PaymentIntent when no payment method is given', async () => {
    const orderId = newOrderId('no-method');
    const response = await post(chargeHandler(parts), { orderId, amount: 500, currency: 'usd' });
    expect(response.statusCode).toBe(201);
    expect(body(response)).toMatchObject({ status: 'requires_action', paymentStatus: 'requires_payment_method' });
  });

  it.each([
    ['malformed JSON', '{"orderId":'],
    ['a schema violation', { orderId: 'bad id', amount: 1, currency: 'eur' }],
  ])('rejects %s with 400 and writes and charges nothing', async (_case, payload) => {
    const before = parts.stripeEmulator.stats().requests;
    const response = await post(chargeHandler(parts), payload);
    expect(response.statusCode).toBe(400);
    expect(parts.stripeEmulator.stats().requests).toBe(before);
    expect(await ledgerRecord(parts, 'bad id')).toBeUndefined();
  });
});

describe('POST /payments when DynamoDB is down', () => {
  it('answers 503 and makes no PaymentIntent', async () => {
    const doomed = await startDynamoDbLocal();
    const client: DynamoDBClient = localDynamoDbClient(doomed.endpoint);
    await createTables(client, parts.tables);
    await doomed.stop();

    const orderId = newOrderId('ddb-down');
    const response = await post(chargeHandler(parts, client), order(orderId));
    client.destroy();
    expect(response.statusCode).toBe(503);
    expect(body(response).error.code).toBe('store_unavailable');
    expect(stripeRequestsFor(parts, orderId)).toBe(0);
  });
});
