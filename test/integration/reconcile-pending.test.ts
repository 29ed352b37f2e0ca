import { randomUUID } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import { backfillIndexKeys, createDynamoDbLedger, createLedgerFactWriter, createPendingLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { paymentMetadata } from '../../lambdas/contract/payment-metadata';
import type { ChargeRequest } from '../../lambdas/contract/payment-request';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import type { LedgerRecord, OrderChannel } from '../../lambdas/core/charge-order';
import { pendingRecordOf } from '../../lambdas/core/charge-order';
import { type LedgerUpdate, ledgerUpdateFrom } from '../../lambdas/core/payment-events';
import { createReconcilePending, LISTING_PAGE_CAP, type PaymentLookups, SEARCH_TRUSTED_AFTER_MS } from '../../lambdas/core/reconcile-pending';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { lambdaContext } from '../../local/lambda-context';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { createTables, localTableNames } from '../../local/tables';
import {
  backdateLedger,
  type LocalParts,
  ledgerRecord,
  newOrderId,
  postEvent,
  serviceOptions,
  silentLogger,
  startLocalParts,
  TEST_NAMESPACE,
} from '../support/local-parts';
import { paymentIntentCreateFor } from '../support/orders';

/**
 * The reconciler against DynamoDB Local and the Stripe emulator: every order left pending, with no
 * client retry and no webhook, ends in a known state, and nothing the reconciler does charges.
 * Each test has tables of its own, so a run sees only that test's records.
 */
let shared: LocalParts;
let parts: LocalParts;
beforeAll(async () => {
  shared = await startLocalParts();
});
afterAll(() => shared?.stop());
beforeEach(async () => {
  const tables = localTableNames(`r${randomUUID().slice(0, 8)}-`);
  await createTables(shared.dynamoDb, tables);
  parts = { ...shared, tables };
  shared.stripeEmulator.faults.clear();
});

const GRACE_SECONDS = 600;
const order = (orderId: string, extra: Partial<ChargeRequest> = {}): ChargeRequest => ({
  orderId,
  amount: 2300,
  currency: 'eur',
  paymentMethod: 'pm_card_visa',
  ...extra,
});
const charge = (body: unknown) => createChargePaymentHandler(createChargeService(serviceOptions(parts), 'api'), silentLogger)(postEvent(body), lambdaContext());

/** The emulator has no rate limit: the largest budget the reconciler is ever given. */
const BUDGET = stripeBudgetOf(1_000).reconciler;
function reconciler(payments: PaymentLookups = createStripePayments(async () => parts.stripe), now?: () => Date) {
  return createReconcilePending({
    ledger: createPendingLedger(parts.dynamoDb, parts.tables.ledgerTableName),
    payments,
    graceSeconds: GRACE_SECONDS,
    budget: BUDGET,
    now,
  });
}
const minutesFromNow = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

/** As if the order's latest attempt started this many minutes ago (the index is keyed on it). */
const ageAttempt = (orderId: string, minutes: number) => backdateLedger(parts, orderId, 'attemptAt', minutes);

/** The pending record written, then a crash: before Stripe was called, or after it charged. */
async function abandoned(orderId: string, { charged, channel = 'api' }: { charged: boolean; channel?: OrderChannel }): Promise<void> {
  await createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName).createPendingOrGet(
    pendingRecordOf(order(orderId), { channel, namespace: TEST_NAMESPACE }, new Date().toISOString()),
  );
  if (charged) await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(order(orderId), TEST_NAMESPACE));
  await ageAttempt(orderId, 11);
}

const createsAndConfirms = () => {
  const { requestsByEndpoint } = parts.stripeEmulator.stats();
  return (requestsByEndpoint['POST /v1/payment_intents'] ?? 0) + (requestsByEndpoint['POST /v1/payment_intents/:id/confirm'] ?? 0);
};

describe('the reconciler', () => {
  it('settles an order Stripe charged but the ledger never heard of, with no retry and no webhook, and never creates or confirms', async () => {
    const orderId = newOrderId('charged-silently');
    await abandoned(orderId, { charged: true });
    const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    const before = createsAndConfirms();

    expect(await reconciler()()).toMatchObject({ examined: 1, settled: 1, failed: 0 });
    expect(createsAndConfirms()).toBe(before);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: intent.id, paymentStatus: 'succeeded' });
    expect(await reconciler()()).toMatchObject({ examined: 0 }); // no longer pending: out of the index
  });

  it("settles, not expires, an order Stripe charged while Stripe's search lags behind (its listing does not)", async () => {
    const orderId = newOrderId('search-lag');
    await createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName).createPendingOrGet(
      pendingRecordOf(order(orderId), { channel: 'api', namespace: TEST_NAMESPACE }, new Date().toISOString()),
    );
    await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(order(orderId), TEST_NAMESPACE));
    const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    const elevenMinutesLater = () => new Date(Date.now() + 11 * 60_000); // the record and its PaymentIntent as Stripe dated them, past the grace
    // Stripe as it is during an incident: search has not indexed the new PaymentIntent yet; all else is current.
    const lagging = new Proxy(parts.stripe, {
      get: (stripe, name) =>
        name === 'paymentIntents'
          ? new Proxy(stripe.paymentIntents, {
              get: (intents, method) =>
                method === 'search' ? async () => ({ object: 'search_result', data: [], has_more: false }) : Reflect.get(intents, method).bind(intents),
            })
          : Reflect.get(stripe, name),
    });
    expect(
      await reconciler(
        createStripePayments(async () => lagging),
        elevenMinutesLater,
      )(),
    ).toMatchObject({ settled: 1, expired: 0 });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentId: intent.id });
  });

  it('expires an API order with no PaymentIntent; the same request then charges it once, another amount is still 422', async () => {
    const orderId = newOrderId('never-sent');
    await abandoned(orderId, { charged: false });
    expect(await reconciler()()).toMatchObject({ expired: 1 });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'expired' });

    expect((await charge({ ...order(orderId), amount: 2400 })).statusCode).toBe(422);
    const charged = await charge(order(orderId));
    expect(charged.statusCode).toBe(201);
    expect(JSON.parse(charged.body)).toMatchObject({ status: 'charged' });
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged' });
  });

  it('leaves a queued order with no PaymentIntent to the queue, and settles a queued one Stripe charged', async () => {
    const [waiting, paid] = [newOrderId('queued-waiting'), newOrderId('queued-paid')];
    await abandoned(waiting, { charged: false, channel: 'queue' });
    await abandoned(paid, { charged: true, channel: 'queue' });
    expect(await reconciler()()).toMatchObject({ examined: 2, leftAlone: 1, settled: 1 });
    expect(await ledgerRecord(parts, waiting)).toMatchObject({ status: 'pending' });
    expect(await ledgerRecord(parts, paid)).toMatchObject({ status: 'charged' });
  });

  it('settles a payment that needs the customer, and a later retry still gets its client secret (asked of Stripe, never stored)', async () => {
    const orderId = newOrderId('needs-customer');
    const request = order(orderId, { paymentMethod: 'pm_card_authenticationRequired' });
    await createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName).createPendingOrGet(
      pendingRecordOf(request, { channel: 'api', namespace: TEST_NAMESPACE }, new Date().toISOString()),
    );
    await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(request, TEST_NAMESPACE));
    await ageAttempt(orderId, 11);
    expect(await reconciler()()).toMatchObject({ settled: 1 });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'requires_action' });

    const retried = await charge(request);
    expect(retried.statusCode).toBe(200);
    expect(JSON.parse(retried.body)).toMatchObject({
      status: 'already_processed',
      clientSecret: parts.stripeEmulator.paymentIntentsForOrder(orderId)[0].client_secret,
    });
    expect(JSON.stringify(await ledgerRecord(parts, orderId))).not.toContain('_secret_');
  });

  it('leaves an order whose latest attempt is within the grace period alone', async () => {
    const orderId = newOrderId('recent');
    await abandoned(orderId, { charged: false });
    await ageAttempt(orderId, 9);
    expect(await reconciler()()).toMatchObject({ examined: 0 });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'pending' });
  });

  describe('a record it cannot settle', () => {
    /** The ledger record with the reconciler's own attributes. */
    const putOffRecord = async (orderId: string) => (await ledgerRecord(parts, orderId)) as LedgerRecord & { nextCheckAt?: string };

    it('is put off (nextCheckAt), skipped until then with its place in the index kept, and settled after', async () => {
      const orderId = newOrderId('put-off');
      await abandoned(orderId, { charged: true });
      const { attemptAt, pendingShard } = (await ledgerRecord(parts, orderId)) as LedgerRecord & { pendingShard: string };
      parts.stripeEmulator.faults.failNext(1, 500); // the search fails (a lookup is never retried)
      expect(await reconciler()()).toMatchObject({ examined: 1, failed: 1 });
      // Half the attempt's age (11 minutes) from now; the index keys untouched.
      const putOff = await putOffRecord(orderId);
      expect(putOff).toMatchObject({ status: 'pending', attemptAt, pendingShard, nextCheckAttemptAt: attemptAt });
      expect(Date.parse(putOff?.nextCheckAt as string) - Date.now()).toBeGreaterThan(5 * 60_000);

      expect(await reconciler()()).toMatchObject({ examined: 0, failed: 0 });
      expect(await reconciler(undefined, minutesFromNow(6))()).toMatchObject({ examined: 1, settled: 1 });
      expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged' });
    });

    it('does not hold back a new attempt: its put-off was for the attempt before', async () => {
      const orderId = newOrderId('put-off-retried');
      await abandoned(orderId, { charged: false });
      parts.stripeEmulator.faults.failNext(1, 500);
      expect(await reconciler()()).toMatchObject({ failed: 1 });
      await ageAttempt(orderId, 12); // as a later attempt (also abandoned) would have left it
      expect(await reconciler()()).toMatchObject({ examined: 1, expired: 1 });
    });

    it('on an account with more PaymentIntents around the attempt than the listing reads, waits for search, not failing', async () => {
      const orderId = newOrderId('busy-account');
      await createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName).createPendingOrGet(
        pendingRecordOf(order(orderId), { channel: 'api', namespace: TEST_NAMESPACE }, new Date().toISOString()),
      );
      // Another deployment's traffic in the same account, while the order's attempt could still make a PaymentIntent.
      const unrelated = createStripePayments(async () => parts.stripe);
      for (let batch = 0; batch < (LISTING_PAGE_CAP * 100) / 50 + 1; batch += 1) {
        await Promise.all(
          Array.from({ length: 50 }, (_, index) =>
            unrelated.createPayment(paymentIntentCreateFor(order(`${orderId}-other-${batch}-${index}`), 'another-deployment')),
          ),
        );
      }
      const { attemptAt } = (await ledgerRecord(parts, orderId)) as LedgerRecord;

      expect(await reconciler(undefined, minutesFromNow(11))()).toMatchObject({ examined: 1, waiting: 1, expired: 0, failed: 0 });
      const waiting = await putOffRecord(orderId);
      expect(waiting).toMatchObject({ status: 'pending' });
      // An hour after the attempt could last have made a PaymentIntent (its function's timeout and a minute of clock skew).
      const trustedAt = Date.parse(attemptAt as string) + (CHARGE_FUNCTION_TIMEOUT_SECONDS + 60) * 1000 + SEARCH_TRUSTED_AFTER_MS;
      expect(waiting?.nextCheckAt).toBe(new Date(trustedAt).toISOString());
      expect(await reconciler(undefined, minutesFromNow(30))()).toMatchObject({ examined: 0 });
      expect(await reconciler(undefined, () => new Date(trustedAt))()).toMatchObject({ examined: 1, expired: 1 });
    });
  });

  describe('records written before this version', () => {
    /** A record as the ledger wrote it before it had indexes and channels: no attemptAt, pendingShard, createdDayShard or channel. */
    async function writtenBefore(orderId: string, status: 'pending' | 'charged'): Promise<void> {
      const at = new Date(Date.now() - 60 * 60_000).toISOString();
      const item = { orderId, status, amount: 2300, currency: 'eur', paymentMethod: 'pm_card_visa', namespace: TEST_NAMESPACE, createdAt: at, updatedAt: at };
      await parts.dynamoDb.send(new PutItemCommand({ TableName: parts.tables.ledgerTableName, Item: marshall(item) }));
    }

    it('are invisible to the reconciler until the one-off backfill gives them their index keys; then a charged one is settled', async () => {
      const [paid, charged] = [newOrderId('before-paid'), newOrderId('before-final')];
      await writtenBefore(paid, 'pending');
      await writtenBefore(charged, 'charged');
      await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(order(paid), TEST_NAMESPACE));
      expect(await reconciler()()).toMatchObject({ examined: 0 });

      expect(await backfillIndexKeys(parts.dynamoDb, parts.tables.ledgerTableName)).toEqual({ scanned: 2, dated: 2, pendingIndexed: 1 });
      expect(await backfillIndexKeys(parts.dynamoDb, parts.tables.ledgerTableName)).toEqual({ scanned: 0, dated: 0, pendingIndexed: 0 });
      expect(await reconciler()()).toMatchObject({ examined: 1, settled: 1 });
      expect(await ledgerRecord(parts, paid)).toMatchObject({ status: 'charged' });
    });

    it('are never expired, since nothing says they came through the API; a retry that resumes one gives it its channel', async () => {
      const [unknown, resumed] = [newOrderId('before-unknown'), newOrderId('before-resumed')];
      await writtenBefore(unknown, 'pending');
      await writtenBefore(resumed, 'pending');
      await backfillIndexKeys(parts.dynamoDb, parts.tables.ledgerTableName);
      expect(await reconciler()()).toMatchObject({ examined: 2, expired: 0, leftAlone: 2 });

      // A queued retry of the second, during a Stripe blip: it takes the queue's channel, and stays the queue's.
      parts.stripeEmulator.faults.failNext(3, 500);
      await expect(createChargeService(serviceOptions(parts), 'queue')(order(resumed), lambdaContext())).rejects.toThrow();
      expect(await ledgerRecord(parts, resumed)).toMatchObject({ status: 'pending', channel: 'queue' });
    });
  });

  describe('races', () => {
    /** Stripe's lookup, with something else happening to the order while it is asked. */
    const lookupDuring = (meanwhile: () => Promise<void>): PaymentLookups => {
      const stripe = createStripePayments(async () => parts.stripe);
      return {
        async findPayment(request, namespace) {
          await meanwhile();
          return stripe.findPayment(request, namespace);
        },
        findPaymentCreatedBetween: (...args) => stripe.findPaymentCreatedBetween(...args),
      };
    };

    it('loses to a client retry that comes while it asks Stripe: the retry charges once, the record is not expired', async () => {
      const orderId = newOrderId('race-retry');
      await abandoned(orderId, { charged: false });
      const summary = await reconciler(lookupDuring(async () => void (await charge(order(orderId)))))();
      expect(summary).toMatchObject({ expired: 0, settled: 0, movedOn: 1 });
      expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged' });
      expect(parts.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
    });

    it('loses to a webhook that comes while it asks Stripe, and never moves the record back', async () => {
      const orderId = newOrderId('race-webhook');
      await abandoned(orderId, { charged: true });
      const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
      const canceled = ledgerUpdateFrom({
        id: `evt_${orderId}`,
        type: 'payment_intent.canceled',
        created: intent.created + 5,
        data: { object: { ...intent, status: 'canceled' } },
      }) as LedgerUpdate & { kind: 'payment' };
      const writeFact = createLedgerFactWriter(parts.dynamoDb, parts.tables.ledgerTableName);
      const summary = await reconciler(lookupDuring(async () => void (await writeFact({ ...canceled, orderId }))))();
      expect(summary).toMatchObject({ settled: 0, movedOn: 1 });
      expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'canceled', lastEventId: `evt_${orderId}` });
    });

    it('leaves alone an expired order whose retry is charging it right now (the retry marks its attempt first)', async () => {
      const orderId = newOrderId('race-in-flight');
      await abandoned(orderId, { charged: false });
      expect(await reconciler()()).toMatchObject({ expired: 1 });
      parts.stripeEmulator.faults.setLatency(400); // the retry's Stripe call is slow
      const retry = charge(order(orderId));
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'pending' });
      expect(await reconciler()()).toMatchObject({ examined: 0 });
      expect((await retry).statusCode).toBe(201);
      expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged' });
    });

    it('runs beside another run of itself: each order is settled once', async () => {
      const orderIds = [newOrderId('twice-a'), newOrderId('twice-b'), newOrderId('twice-c')];
      for (const [index, orderId] of orderIds.entries()) await abandoned(orderId, { charged: index !== 1 });
      const [first, second] = await Promise.all([reconciler()(), reconciler()()]);
      expect(first.settled + second.settled).toBe(2);
      expect(first.expired + second.expired).toBe(1);
      // Whatever one run moved, the other either did not see or found moved (and left as it was).
      expect(first.examined + second.examined).toBe(3 + first.movedOn + second.movedOn);
      expect((await Promise.all(orderIds.map((orderId) => ledgerRecord(parts, orderId)))).map((r) => r?.status)).toEqual(['charged', 'expired', 'charged']);
    });
  });

  it('lets a charge answer and a webhook fact move an expired order forward: money taken always shows as charged', async () => {
    const [answered, told] = [newOrderId('expired-answered'), newOrderId('expired-told')];
    for (const orderId of [answered, told]) {
      await abandoned(orderId, { charged: false });
    }
    expect(await reconciler()()).toMatchObject({ expired: 2 });

    const ledger = createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName);
    expect(await ledger.finalize(answered, { status: 'charged', paymentId: 'pi_late', paymentStatus: 'succeeded' }, new Date().toISOString())).toMatchObject({
      status: 'charged',
    });

    const fact = ledgerUpdateFrom({
      id: `evt_${told}`,
      type: 'payment_intent.succeeded',
      created: 1_800_000_000,
      data: {
        object: {
          id: 'pi_told',
          object: 'payment_intent',
          amount: 2300,
          currency: 'eur',
          status: 'succeeded',
          metadata: paymentMetadata(TEST_NAMESPACE, told),
        },
      },
    }) as LedgerUpdate & { kind: 'payment' };
    expect(await createLedgerFactWriter(parts.dynamoDb, parts.tables.ledgerTableName)({ ...fact, orderId: told })).toBe('applied');
    expect(await ledgerRecord(parts, told)).toMatchObject({ status: 'charged', paymentId: 'pi_told' });
  });
});

describe("npm start's reconciler", () => {
  let runtime: LocalRuntime;
  beforeAll(async () => {
    // Shortened period and grace, as RECONCILE_INTERVAL_SECONDS and PENDING_GRACE_SECONDS allow.
    runtime = await startLocalRuntime({
      port: 0,
      namePrefix: `rt${randomUUID().slice(0, 6)}-`,
      dynamoDbEndpoint: shared.dynamoDbLocal.endpoint,
      stripeSecretKey: shared.stripeEmulator.apiKey,
      stripeApiBase: shared.stripeEmulator.url,
      namespace: TEST_NAMESPACE,
      reconcileIntervalSeconds: 1,
      pendingGraceSeconds: 1,
    });
  });
  afterAll(() => runtime?.stop());

  it('settles an order whose answer was lost, with no client retry and no webhook, on its own', async () => {
    const orderId = newOrderId('runtime-lost');
    shared.stripeEmulator.faults.dropNextResponses(3); // Stripe charged; the SDK's try and retries all lost the answer
    const answer = await fetch(`${runtime.url}/payments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(order(orderId)),
    });
    expect(answer.status).toBe(502);
    const settled = async () => ((await (await fetch(`${runtime.url}/payments/${orderId}`)).json()) as { status: string }).status;
    const deadline = Date.now() + 15_000;
    while ((await settled()) !== 'charged' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await settled()).toBe('charged');
    expect(shared.stripeEmulator.paymentIntentsForOrder(orderId)).toHaveLength(1);
  });

  it('runs once on request (POST /_local/reconcile, what `npm run reconcile -- --local` calls) and answers the summary', async () => {
    const response = await fetch(`${runtime.url}/_local/reconcile`, { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(expect.objectContaining({ examined: expect.any(Number), failed: 0, unfinished: false }));
  });
});
