import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import { createDynamoDbLedger, createPendingLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createIdempotentCharge } from '../../lambdas/adapters/idempotent-use-cases';
import { createPersonalDataStore } from '../../lambdas/adapters/personal-data';
import { createStripeClient, createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { METRIC_NAMES } from '../../lambdas/contract/environment';
import { BEFORE_NAMESPACES, paymentMetadata, stripeIdempotencyKey } from '../../lambdas/contract/payment-metadata';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { createChargeOrder, type PaymentsLedger, pendingRecordOf } from '../../lambdas/core/charge-order';
import { createReconcilePending } from '../../lambdas/core/reconcile-pending';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { freePort } from '../../local/free-port';
import { lambdaContext } from '../../local/lambda-context';
import { capturedMetrics } from '../support/captured-metrics';
import {
  backdateLedger,
  chargeHandler,
  forgetIdempotencyKeys,
  type LocalParts,
  ledgerRecord,
  ledgerSize,
  newOrderId,
  post,
  postEvent,
  serviceOptions,
  silentLogger,
  startLocalParts,
  stripeRequestsFor,
  TEST_NAMESPACE,
} from '../support/local-parts';
import { paymentIntentCreateFor } from '../support/orders';

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

/** As if the order had been pending for `hours`. */
const ageLedgerRecord = (orderId: string, hours: number) => backdateLedger(parts, orderId, 'createdAt', hours * 60);

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

  it('publishes the outcome and how long Stripe took, in one EMF blob per call', async () => {
    const captured = capturedMetrics();
    try {
      const handler = createChargePaymentHandler(createChargeService(serviceOptions(parts), 'api', captured.metrics), silentLogger, captured.metrics);
      expect((await post(handler, order(newOrderId('latency')))).statusCode).toBe(201);
    } finally {
      captured.restore();
    }
    const [blob] = captured.blobs();
    expect(blob.metrics).toEqual({ [METRIC_NAMES.charged]: 1, [METRIC_NAMES.stripeLatency]: expect.any(Number) });
    expect(blob.metrics[METRIC_NAMES.stripeLatency]).toBeGreaterThan(0);
    expect(blob.values._aws).toMatchObject({
      CloudWatchMetrics: [{ Metrics: expect.arrayContaining([{ Name: METRIC_NAMES.stripeLatency, Unit: 'Milliseconds' }]) }],
    });
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
    const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: intent.id });
    expect(responses.filter((r) => r.statusCode < 300).every((r) => body(r).paymentId === intent.id)).toBe(true);
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

  /** The charge of a process that "dies" as Stripe answers: the ledger's final write never returns (the key's goes with it). */
  function chargeDyingAtFinalize(reachedFinalize: () => void, keyCompletion: 'lands' | 'dies too') {
    const ledger = createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName);
    const dyingLedger: PaymentsLedger = {
      ...ledger,
      finalize: () => {
        reachedFinalize();
        return new Promise(() => undefined);
      },
    };
    const keyTableClient = keyCompletion === 'lands' ? parts.dynamoDb : localDynamoDbClient(parts.dynamoDbLocal.endpoint);
    // The key's completion (the key table's only UpdateItem) never returns either.
    if (keyCompletion === 'dies too')
      keyTableClient.middlewareStack.add(
        (next, context) => (args) => (context.commandName === 'UpdateItemCommand' ? new Promise(() => undefined) : next(args)),
        { step: 'initialize', name: 'dieAtKeyCompletion' },
      );
    const charge = createIdempotentCharge({
      chargeOrder: createChargeOrder({
        ledger: dyingLedger,
        payments: createStripePayments(async () => parts.stripe),
        personalData: createPersonalDataStore(parts.dynamoDb, parts.tables.idempotencyTableName),
        origin: { channel: 'api', namespace: TEST_NAMESPACE },
      }),
      dynamoDb: keyTableClient,
      tableName: parts.tables.idempotencyTableName,
    });
    return { charge, stop: () => keyTableClient !== parts.dynamoDb && keyTableClient.destroy() };
  }

  it('recovers from a crash after the Stripe call that took both last writes: the retry makes no second PaymentIntent', async () => {
    const orderId = newOrderId('crash');
    let reachedFinalize!: () => void;
    const crashed = new Promise<void>((resolve) => (reachedFinalize = resolve));
    const remainingMs = 3_000; // the in-progress lock lasts as long as the Lambda had left
    const dying = chargeDyingAtFinalize(reachedFinalize, 'dies too');
    void createChargePaymentHandler(dying.charge, silentLogger)(postEvent(order(orderId)), lambdaContext(remainingMs));
    await crashed;
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);

    const handler = chargeHandler(parts);
    expect((await post(handler, order(orderId))).statusCode).toBe(409); // the lock still holds
    await new Promise((resolve) => setTimeout(resolve, remainingMs + 100));

    const retried = await post(handler, order(orderId));
    expect(retried.statusCode).toBe(201);
    expect(stripeRequestsFor(parts, orderId)).toBe(2);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: body(retried).paymentId });
    dying.stop();
  });

  it('recovers from a crash after the Stripe call that took only the ledger write: retries replay the charge, and the reconciler settles the ledger', async () => {
    const orderId = newOrderId('crash-key-done');
    let reachedFinalize!: () => void;
    const crashed = new Promise<void>((resolve) => (reachedFinalize = resolve));
    void createChargePaymentHandler(chargeDyingAtFinalize(reachedFinalize, 'lands').charge, silentLogger)(postEvent(order(orderId)), lambdaContext());
    await crashed;

    // The key's completion was sent with the ledger's write and landed: the retry is a replay.
    const handler = chargeHandler(parts);
    let retried = await post(handler, order(orderId));
    // 409 until the completion, sent as the use case returned, has landed (a few milliseconds).
    for (let tries = 0; retried.statusCode === 409 && tries < 50; tries += 1) retried = await post(handler, order(orderId));
    expect(retried.statusCode).toBe(200);
    const intents = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    expect(body(retried)).toMatchObject({ status: 'already_processed', paymentId: intents[0].id, paymentStatus: 'succeeded' });
    expect(intents).toHaveLength(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'pending' });

    await backdateLedger(parts, orderId, 'attemptAt', 10);
    const reconcile = createReconcilePending({
      ledger: createPendingLedger(parts.dynamoDb, parts.tables.ledgerTableName),
      payments: createStripePayments(async () => parts.stripe),
      graceSeconds: 60,
      budget: stripeBudgetOf(1_000).reconciler,
    });
    await reconcile();
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: intents[0].id });
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
  });

  /** A charge handler whose ledger creates wait until `open()`: its key claim lands first, its create later. */
  function chargeWithHeldCreate() {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const client = localDynamoDbClient(parts.dynamoDbLocal.endpoint);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string };
        if (['PutItemCommand', 'PutCommand'].includes(context.commandName ?? '') && input.TableName === parts.tables.ledgerTableName) await opened;
        return next(args);
      },
      { step: 'initialize', name: 'holdLedgerCreate' },
    );
    return { handler: chargeHandler(parts, client), open, client };
  }

  it('withdraws the record of a request refused as another payment under the orderId, so the key holder charges its own', async () => {
    const orderId = newOrderId('claim-lost-other');
    const held = chargeWithHeldCreate();
    const holder = post(held.handler, order(orderId));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the holder's claim has landed, its create waits

    // Another amount under the same orderId: its claim is refused, its create (sent with it) lands first.
    const refused = await post(chargeHandler(parts), order(orderId, { amount: 1 }));
    expect(refused.statusCode).toBe(422);
    expect(await ledgerRecord(parts, orderId)).toBeUndefined(); // withdrawn

    held.open();
    const charged = await holder;
    expect(charged.statusCode).toBe(201);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', amount: 4200 });
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    held.client.destroy();
  });

  it('withdraws the record of a concurrent retry answered "in progress" before the key holder takes it up; the holder charges once', async () => {
    const orderId = newOrderId('claim-lost-same');
    const held = chargeWithHeldCreate();
    const holder = post(held.handler, order(orderId));
    await new Promise((resolve) => setTimeout(resolve, 100));

    // The same request again: in progress (409); its create, sent with the claim, landed and was withdrawn.
    expect((await post(chargeHandler(parts), order(orderId))).statusCode).toBe(409);
    expect(await ledgerRecord(parts, orderId)).toBeUndefined();

    held.open();
    expect((await holder).statusCode).toBe(201);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged' });
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    held.client.destroy();
  });

  it('withdraws a pending record only while no other attempt has taken it up', async () => {
    const orderId = newOrderId('withdraw-taken');
    const ledger = createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName);
    const pending = pendingRecordOf(order(orderId), { channel: 'api', namespace: TEST_NAMESPACE }, '2026-12-01T10:00:00.000Z');
    await ledger.createPendingOrGet(pending);
    await ledger.markAttempt(orderId, 'api', '2026-12-01T10:00:05.000Z', 'the-charge');
    await ledger.releasePending(orderId, pending.attemptId);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'pending', attemptId: 'the-charge' });
    await ledger.releasePending(orderId, 'the-charge');
    expect(await ledgerRecord(parts, orderId)).toBeUndefined();
    // A charge that takes up a record withdrawn just before hears that it is gone, not an error.
    await expect(ledger.markAttempt(orderId, 'api', '2026-12-01T10:00:06.000Z', 'late')).resolves.toBeUndefined();
  });

  it('creates an unconfirmed PaymentIntent when no payment method is given', async () => {
    const orderId = newOrderId('no-method');
    const response = await post(chargeHandler(parts), { orderId, amount: 500, currency: 'usd' });
    expect(response.statusCode).toBe(201);
    expect(body(response)).toMatchObject({ status: 'requires_action', paymentStatus: 'requires_payment_method' });
    expect(body(response).clientSecret).toMatch(/^pi_\w+_secret_/);
    expect(JSON.stringify(await ledgerRecord(parts, orderId))).not.toContain('secret');
  });

  it('does not charge twice when the answer was lost and Stripe has since forgotten the key', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('forgotten-key');
    parts.stripeEmulator.faults.dropNextResponses(3); // the SDK's try and both retries lose the answer
    expect((await post(handler, order(orderId))).statusCode).toBe(502);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1); // charged all the same

    // A day later: the key table and Stripe have both forgotten the key; the ledger still says pending.
    await forgetIdempotencyKeys(parts);
    parts.stripeEmulator.faults.expireIdempotencyKeys();
    await ageLedgerRecord(orderId, 25);

    const retried = await post(handler, order(orderId));
    expect(retried.statusCode).toBe(201);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(body(retried).paymentId).toBe(parts.stripeEmulator.paymentIntentsForOrder(orderId)[0].id);
  });

  it("the day-old lookup takes only this deployment's PaymentIntent for this order, amount and currency", async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('not-ours');
    // The same Stripe account holds payments naming this orderId: another system's, another deployment's.
    const someoneElses = [
      { amount: 100, currency: 'usd', metadata: { orderId } },
      { amount: 4200, currency: 'eur', metadata: paymentMetadata('staging', orderId) },
    ];
    for (const [index, params] of someoneElses.entries()) {
      await parts.stripe.paymentIntents.create(
        { ...params, payment_method: 'pm_card_visa', confirm: true, automatic_payment_methods: { enabled: true, allow_redirects: 'never' } },
        { idempotencyKey: `elsewhere-${index}-${orderId}` },
      );
    }
    parts.stripeEmulator.faults.failNext(3, 500); // our first attempt: Stripe fails, the order stays pending
    expect((await post(handler, order(orderId))).statusCode).toBe(502);

    await forgetIdempotencyKeys(parts);
    parts.stripeEmulator.faults.expireIdempotencyKeys();
    await ageLedgerRecord(orderId, 25);
    const retried = await post(handler, order(orderId));

    expect(retried.statusCode).toBe(201);
    const ours = parts.stripeEmulator.paymentIntentsForOrder(orderId, TEST_NAMESPACE);
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ amount: 4200, currency: 'eur', status: 'succeeded' });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: ours[0].id, amount: 4200, currency: 'eur' });
  });

  describe('what the day-old lookup finds', () => {
    /** An order whose answer was lost, then a day in which both key stores forgot it. */
    async function pendingForADay(orderId: string, extra: Record<string, unknown>): Promise<string> {
      parts.stripeEmulator.faults.dropNextResponses(3);
      expect((await post(chargeHandler(parts), order(orderId, extra))).statusCode).toBe(502);
      await forgetIdempotencyKeys(parts);
      parts.stripeEmulator.faults.expireIdempotencyKeys();
      await ageLedgerRecord(orderId, 25);
      return parts.stripeEmulator.paymentIntentsForOrder(orderId, TEST_NAMESPACE)[0].id;
    }

    it('a PaymentIntent that needs the customer: the answer carries its client secret, as a create would', async () => {
      const orderId = newOrderId('lookup-action');
      const paymentId = await pendingForADay(orderId, { paymentMethod: undefined });
      const answer = await post(chargeHandler(parts), order(orderId, { paymentMethod: undefined }));
      expect(answer.statusCode).toBe(201);
      expect(body(answer)).toMatchObject({ status: 'requires_action', paymentId });
      expect(body(answer).clientSecret).toBe(parts.stripeEmulator.paymentIntentsForOrder(orderId, TEST_NAMESPACE)[0].client_secret);
      expect(stripeRequestsFor(parts, orderId)).toBe(3); // only the lost attempt: the lookup found it
    });

    it('survives a reset connection: stripe-node retries it once even with retries off (the timeout sum counts both tries)', async () => {
      const orderId = newOrderId('lookup-reset');
      const paymentId = await pendingForADay(orderId, {});
      const requestsBefore = parts.stripeEmulator.stats().requests;
      parts.stripeEmulator.faults.dropNextRequests(1);
      const answer = await post(chargeHandler(parts), order(orderId));
      expect(body(answer)).toMatchObject({ status: 'charged', paymentId });
      expect(parts.stripeEmulator.stats().requests - requestsBefore).toBe(2); // the dropped search and its retry; no create
    });

    it('a canceled PaymentIntent: the ledger says canceled, not requires_action', async () => {
      const orderId = newOrderId('lookup-canceled');
      const paymentId = await pendingForADay(orderId, { paymentMethod: undefined });
      await parts.stripe.paymentIntents.cancel(paymentId);
      const answer = await post(chargeHandler(parts), order(orderId, { paymentMethod: undefined }));
      expect(body(answer)).toMatchObject({ status: 'canceled', paymentId, paymentStatus: 'canceled' });
      expect(body(answer).clientSecret).toBeUndefined();
      expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'canceled', paymentStatus: 'canceled' });
    });
  });

  it("resumes a pending order with its first description, so the retry matches Stripe's key", async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('description');
    parts.stripeEmulator.faults.dropNextResponses(3);
    expect((await post(handler, order(orderId, { description: 'first' }))).statusCode).toBe(502);

    const retried = await post(handler, order(orderId, { description: 'second' }));
    expect(retried.statusCode).toBe(201);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
  });

  it('answers 400 naming the field Stripe refused, and lets the corrected order through', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('refused');
    const refused = await post(handler, order(orderId, { paymentMethod: 'pm_card_doesNotExist' }));
    expect(refused.statusCode).toBe(400);
    expect(body(refused).error.details).toEqual([{ field: 'paymentMethod', message: 'was refused by the payment provider (resource_missing)' }]);
    expect(await ledgerRecord(parts, orderId)).toBeUndefined();

    expect((await post(handler, order(orderId))).statusCode).toBe(201);
  });

  it('keeps the PaymentIntent Stripe made before it refused the confirm: 400 to the client, the record never freed for a second one', async () => {
    const handler = chargeHandler(parts);
    const orderId = newOrderId('refused-confirm');
    // Stripe created the PaymentIntent, then refused to confirm it: its error carries the PaymentIntent.
    const made = await parts.stripe.paymentIntents.create(
      { amount: 4200, currency: 'eur', metadata: paymentMetadata(TEST_NAMESPACE, orderId) },
      { idempotencyKey: `made-before-refusal-${orderId}` },
    );
    parts.stripeEmulator.faults.failNext(1, 400, {
      type: 'invalid_request_error',
      code: 'payment_intent_incompatible_payment_method',
      param: 'payment_method',
      message: 'This PaymentMethod cannot be used with this PaymentIntent.',
      payment_intent: made,
    });
    const refused = await post(handler, order(orderId));
    expect(refused.statusCode).toBe(400);
    expect(body(refused).error.details).toEqual([
      { field: 'paymentMethod', message: 'was refused by the payment provider (payment_intent_incompatible_payment_method)' },
    ]);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'requires_action', paymentId: made.id });

    // Another payment method under the same orderId cannot make a second PaymentIntent.
    expect((await post(handler, order(orderId, { paymentMethod: 'pm_card_mastercard' }))).statusCode).toBe(422);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
  });

  it('answers 400 naming the field when the Stripe SDK cannot even send the request, and frees the order', async () => {
    // A pending record written before validation refused unpaired surrogates: the resume sends its description.
    const orderId = newOrderId('unsendable');
    const ledger = createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName);
    await ledger.createPendingOrGet(
      pendingRecordOf(
        { ...order(orderId), currency: 'eur', description: 'old \udc00' },
        { channel: 'api', namespace: TEST_NAMESPACE },
        new Date().toISOString(),
      ),
    );

    const refused = await post(chargeHandler(parts), order(orderId, { description: 'fine' }));
    expect(refused.statusCode).toBe(400);
    expect(body(refused).error.details).toEqual([{ field: 'description', message: 'was refused by the payment provider (request_not_sendable)' }]);
    expect(stripeRequestsFor(parts, orderId)).toBe(0);
    expect(await ledgerRecord(parts, orderId)).toBeUndefined();

    const corrected = await post(chargeHandler(parts), order(orderId, { description: 'fine' }));
    expect(corrected.statusCode).toBe(201);
  });

  it('answers the charge (201) when only completing the idempotency key fails afterwards', async () => {
    const orderId = newOrderId('key-completion');
    const flaky = localDynamoDbClient(parts.dynamoDbLocal.endpoint);
    // Fault injection on a real client: the key table refuses the completing UpdateItem.
    flaky.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string };
        if (context.commandName === 'UpdateItemCommand' && input.TableName === parts.tables.idempotencyTableName) {
          throw Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' });
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const response = await post(chargeHandler(parts, flaky), order(orderId));
    flaky.destroy();
    expect(response.statusCode).toBe(201);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: body(response).paymentId });
    // The key stays locked until the Lambda's time is up; then the ledger answers.
    expect((await post(chargeHandler(parts), order(orderId))).statusCode).toBe(409);
  });

  it.each([
    ['malformed JSON', '{"orderId":'],
    ['a schema violation', { orderId: 'bad id', amount: 1, currency: 'eur' }],
  ])('rejects %s with 400 and writes and charges nothing', async (_case, payload) => {
    const [stripeBefore, ledgerBefore] = [parts.stripeEmulator.stats().requests, await ledgerSize(parts)];
    const response = await post(chargeHandler(parts), payload);
    expect(response.statusCode).toBe(400);
    expect(parts.stripeEmulator.stats().requests).toBe(stripeBefore);
    expect(await ledgerSize(parts)).toBe(ledgerBefore);
  });
});

describe('orders begun before a namespace change, or before namespaces', () => {
  /** The ledger wrote `pending`, Stripe charged with the key and metadata of that time, and the function died before finalize. */
  async function crashedAfterStripe(orderId: string, namespace: string) {
    const request = { orderId, amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa' };
    await createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName).createPendingOrGet(
      pendingRecordOf(request, { channel: 'api', namespace }, new Date().toISOString()),
    );
    // The very request that deployment sent: the same key, parameters and metadata.
    const attempt = await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(request, namespace));
    const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    expect(intent).toMatchObject({ id: attempt.paymentId, metadata: paymentMetadata(namespace, orderId) });
    expect(parts.stripeEmulator.stats().requestsByIdempotencyKey[stripeIdempotencyKey(namespace, orderId)]).toBe(1);
    return { request, intent };
  }
  const succeeded = (orderId: string) => parts.stripeEmulator.paymentIntentsForOrder(orderId).filter((intent) => intent.status === 'succeeded');

  it.each([
    ['made before namespaces (key = orderId, no namespace in the metadata)', BEFORE_NAMESPACES],
    ['made under the namespace the deployment had before', 'renamed-from'],
  ])('resumes an order %s with that key: no second charge', async (_case, namespace) => {
    const orderId = newOrderId('resume-scheme');
    const { request, intent } = await crashedAfterStripe(orderId, namespace);
    const answer = await post(chargeHandler(parts), request);
    expect(answer.statusCode).toBe(201);
    expect(body(answer).paymentId).toBe(intent.id);
    expect(succeeded(orderId)).toHaveLength(1);
  });

  it("finds such an order's PaymentIntent with the day-old lookup too", async () => {
    const orderId = newOrderId('lookup-scheme');
    const { request, intent } = await crashedAfterStripe(orderId, BEFORE_NAMESPACES);
    await forgetIdempotencyKeys(parts);
    parts.stripeEmulator.faults.expireIdempotencyKeys();
    await ageLedgerRecord(orderId, 25);
    const answer = await post(chargeHandler(parts), request);
    expect(body(answer).paymentId).toBe(intent.id);
    expect(succeeded(orderId)).toHaveLength(1);
  });
});

describe('an answer from Stripe the SDK cannot read', () => {
  it('keeps the pending record (Stripe may have charged) and charges once on the retry', async () => {
    // Forwards each request to the emulator, which processes it, then answers the JSON literal null.
    const proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const forwarded = ['authorization', 'idempotency-key', 'content-type', 'stripe-version'];
      await fetch(`${parts.stripeEmulator.url}${request.url}`, {
        method: request.method,
        headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => forwarded.includes(name))) as Record<string, string>,
        body: Buffer.concat(chunks),
      });
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end('null');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxied = createStripeClient(parts.stripeEmulator.apiKey, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
    const orderId = newOrderId('unreadable');
    try {
      const handler = createChargePaymentHandler(createChargeService({ ...serviceOptions(parts), stripe: async () => proxied }, 'api'), silentLogger);
      const answer = await post(handler, order(orderId));
      expect(answer.statusCode).toBe(502); // retryable: nothing says the charge did not happen
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'pending' });
    const retried = await post(chargeHandler(parts), order(orderId));
    expect(retried.statusCode).toBe(201);
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
  });
});

describe('POST /payments when DynamoDB is down', () => {
  it('answers 503 and makes no PaymentIntent', async () => {
    // Nothing listens on a free port: DynamoDB is down for this client.
    const client = localDynamoDbClient(`http://127.0.0.1:${await freePort()}`);
    const orderId = newOrderId('ddb-down');
    const response = await post(chargeHandler(parts, client), order(orderId));
    client.destroy();
    expect(response.statusCode).toBe(503);
    expect(body(response).error.code).toBe('store_unavailable');
    expect(stripeRequestsFor(parts, orderId)).toBe(0);
  });
});
