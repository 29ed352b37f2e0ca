import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import Stripe from 'stripe';
import { createDynamoDbLedger, createLedgerReader } from '../../lambdas/adapters/dynamodb-ledger';
import { createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { createStripeEventHandling, createStripeEventVerifier } from '../../lambdas/adapters/stripe-webhooks';
import { BEFORE_NAMESPACES, paymentMetadata } from '../../lambdas/contract/payment-metadata';
import { pendingRecordOf } from '../../lambdas/core/charge-order';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { createStripeWebhookHandler } from '../../lambdas/handlers/stripe-webhook';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { lambdaContext } from '../../local/lambda-context';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import type { StripeEmulator, StripeEvent } from '../../local/stripe-emulator/stripe-emulator';
import { capturedLogger } from '../support/captured-logs';
import {
  chargeHandler,
  type LocalParts,
  ledgerRecord,
  newOrderId,
  post,
  serviceOptions,
  setLedgerField,
  silentLogger,
  startLocalParts,
  TEST_NAMESPACE,
} from '../support/local-parts';
import { paymentIntentCreateFor } from '../support/orders';

const SECRET = 'whsec_test_secret';
let parts: LocalParts;
let webhook: ApiHandler;

beforeAll(async () => {
  parts = await startLocalParts();
  webhook = createStripeWebhookHandler(
    createStripeEventVerifier(async () => SECRET),
    createStripeEventHandling(serviceOptions(parts)),
    silentLogger,
  );
});
afterAll(() => parts?.stop());

const signer = new Stripe('sk_test_signer');
let eventCounter = 0;

function stripeEvent(type: string, created: number, object: Record<string, unknown>) {
  eventCounter += 1;
  return { id: `evt_test_${eventCounter}`, object: 'event', type, created, livemode: false, data: { object } };
}

interface DeliveryOptions {
  secret?: string;
  timestamp?: number;
  signature?: string | null;
  body?: string;
}

/** What API Gateway hands the webhook Lambda: the raw body and Stripe's signature header. */
function delivery(event: object, options: DeliveryOptions = {}): APIGatewayProxyEvent {
  const payload = JSON.stringify(event);
  const signature =
    options.signature === undefined
      ? signer.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? SECRET, timestamp: options.timestamp })
      : options.signature;
  return {
    httpMethod: 'POST',
    path: '/webhooks/stripe',
    headers: signature === null ? { 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json', 'Stripe-Signature': signature },
    body: options.body ?? payload,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEvent;
}

async function deliver(event: object, options?: DeliveryOptions) {
  const response = await webhook(delivery(event, options), lambdaContext());
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

/**
 * A real PaymentIntent at the emulator, marked as this deployment's (so a Charge event can be traced
 * back to its order), with the `pending` ledger record the charge path writes before calling Stripe.
 */
async function paymentIntent(
  orderId: string,
  { amount = 3000, metadata = paymentMetadata(TEST_NAMESPACE, orderId), key = `pi-${orderId}`, recorded = true } = {},
) {
  if (recorded)
    await createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName).createPendingOrGet(
      pendingRecordOf({ orderId, amount, currency: 'eur' }, { channel: 'api', namespace: TEST_NAMESPACE }, new Date().toISOString()),
    );
  return parts.stripe.paymentIntents.create({ amount, currency: 'eur', metadata }, { idempotencyKey: key });
}

/** A pending record and its PaymentIntent, both as the charge path of that namespace makes them. */
async function createPaymentAt(orderId: string, namespace: string): Promise<Stripe.PaymentIntent> {
  const request = { orderId, amount: 3000, currency: 'eur' };
  await createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName).createPendingOrGet(
    pendingRecordOf(request, { channel: 'api', namespace }, new Date().toISOString()),
  );
  await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(request, namespace));
  return parts.stripeEmulator.paymentIntentsForOrder(orderId)[0] as unknown as Stripe.PaymentIntent;
}

const intentObject = (intent: Stripe.PaymentIntent, status: string, extra: Record<string, unknown> = {}) => ({ ...intent, status, ...extra });
/** A Refund made in the Dashboard: no metadata, so the handler must ask Stripe which order its PaymentIntent belongs to. */
const refundObject = (intent: Stripe.PaymentIntent, amount: number, id = `re_${amount}_for_${intent.id}`) => ({
  id,
  object: 'refund',
  amount,
  currency: intent.currency,
  payment_intent: intent.id,
  status: 'succeeded',
  metadata: {},
});

describe('POST /webhooks/stripe signature checks', () => {
  let orderId: string;
  let event: ReturnType<typeof stripeEvent>;
  beforeAll(async () => {
    orderId = newOrderId('sig');
    expect((await post(chargeHandler(parts), { orderId, amount: 3000, currency: 'eur', paymentMethod: 'pm_card_visa' })).statusCode).toBe(201);
    const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    event = stripeEvent('refund.created', Math.floor(Date.now() / 1000), refundObject(intent as unknown as Stripe.PaymentIntent, 3000));
  });

  it.each<[string, () => DeliveryOptions]>([
    ['a signature made with another secret', () => ({ secret: 'whsec_someone_else' })],
    ['no Stripe-Signature header', () => ({ signature: null })],
    ['a body altered after signing', () => ({ body: JSON.stringify({ ...event, data: { object: { ...event.data.object, amount: 1 } } }) })],
    ['a timestamp older than the tolerance', () => ({ timestamp: Math.floor(Date.now() / 1000) - 600 })],
    ['a malformed header', () => ({ signature: 't=abc,v1=' })],
  ])('answers 400 to %s and leaves the ledger as it was', async (_case, options) => {
    const before = await ledgerRecord(parts, orderId);
    const answer = await deliver(event, options());
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_signature');
    expect(await ledgerRecord(parts, orderId)).toEqual(before);
  });

  it('accepts the same event correctly signed, also when API Gateway hands the body over base64-encoded', async () => {
    const encoded = { ...delivery(event), isBase64Encoded: true };
    encoded.body = Buffer.from(encoded.body as string).toString('base64');
    const response = await webhook(encoded, lambdaContext());
    expect(JSON.parse(response.body)).toEqual({ received: true, outcome: 'applied' });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'refunded', amountRefunded: 3000 });
  });
});

describe('POST /webhooks/stripe deduplication and ordering', () => {
  it('makes one ledger transition from the same event delivered 10 times at once', async () => {
    const orderId = newOrderId('ten');
    const intent = await paymentIntent(orderId);
    const event = stripeEvent('payment_intent.succeeded', intent.created + 1, intentObject(intent, 'succeeded'));
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(event)));

    expect(answers.filter((answer) => answer.body.outcome === 'applied')).toHaveLength(1);
    // The others were told "duplicate" (200) or "in progress" (409, so Stripe delivers again later).
    expect(answers.every((answer) => answer.body.outcome === 'duplicate' || answer.status === 409 || answer.body.outcome === 'applied')).toBe(true);
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', lastEventId: event.id });
    expect(await deliver(event)).toEqual({ status: 200, body: { received: true, outcome: 'duplicate' } });
  });

  it('answers 200 to event types it does not track, and writes nothing', async () => {
    const orderId = newOrderId('unknown-type');
    const intent = await paymentIntent(orderId);
    const before = await ledgerRecord(parts, orderId);
    expect(await deliver(stripeEvent('payment_intent.created', intent.created, intentObject(intent, 'requires_payment_method')))).toEqual({
      status: 200,
      body: { received: true, outcome: 'ignored' },
    });
    expect(await ledgerRecord(parts, orderId)).toEqual(before);
  });

  it('ignores a payment made outside this service, even one naming an orderId of ours', async () => {
    const orderId = newOrderId('foreign');
    const foreign = await paymentIntent(orderId, { metadata: { orderId }, recorded: false });
    expect((await deliver(stripeEvent('payment_intent.succeeded', foreign.created, intentObject(foreign, 'succeeded')))).body.outcome).toBe('ignored');
    expect((await deliver(stripeEvent('refund.created', foreign.created, refundObject(foreign, 3000)))).body.outcome).toBe('ignored');
    expect(await ledgerRecord(parts, orderId)).toBeUndefined();
    // The order is then charged normally, not mistaken for done.
    expect((await post(chargeHandler(parts), { orderId, amount: 3000, currency: 'eur', paymentMethod: 'pm_card_visa' })).statusCode).toBe(201);
  });

  it('creates no record for an order the ledger never saw: 200 ignored, logged as an error', async () => {
    const orderId = newOrderId('never-seen');
    const intent = await paymentIntent(orderId, { recorded: false });
    const logs = capturedLogger();
    try {
      const handler = createStripeWebhookHandler(
        createStripeEventVerifier(async () => SECRET),
        createStripeEventHandling(serviceOptions(parts)),
        logs.logger,
      );
      const response = await handler(delivery(stripeEvent('payment_intent.succeeded', intent.created, intentObject(intent, 'succeeded'))), lambdaContext());
      expect(JSON.parse(response.body)).toEqual({ received: true, outcome: 'ignored' });
    } finally {
      logs.restore();
    }
    expect(await ledgerRecord(parts, orderId)).toBeUndefined();
    expect(logs.entries()).toContainEqual(expect.objectContaining({ level: 'ERROR', outcome: 'unknown_order' }));
    // The order is then charged normally: its first request is a first charge.
    const first = await post(chargeHandler(parts), { orderId, amount: 3000, currency: 'eur', paymentMethod: 'pm_card_visa' });
    expect([first.statusCode, JSON.parse(first.body).status]).toEqual([201, 'charged']);
  });

  it("refuses a fact whose amount or currency differs from the order's (conflict), and writes nothing", async () => {
    const orderId = newOrderId('other-amount');
    const intent = await paymentIntent(orderId);
    const before = await ledgerRecord(parts, orderId);
    for (const changed of [{ amount: 1 }, { currency: 'usd' }]) {
      const answer = await deliver(stripeEvent('payment_intent.succeeded', intent.created, intentObject(intent, 'succeeded', changed)));
      expect(answer).toEqual({ status: 200, body: { received: true, outcome: 'conflict' } });
    }
    expect(await ledgerRecord(parts, orderId)).toEqual(before);
  });

  it('applies the events of a payment made before namespaces to its record, and only to such a record', async () => {
    const legacy = newOrderId('before-namespaces');
    const legacyIntent = await createPaymentAt(legacy, BEFORE_NAMESPACES);
    const succeeded = (intent: Stripe.PaymentIntent) => stripeEvent('payment_intent.succeeded', intent.created + 1, intentObject(intent, 'succeeded'));
    expect((await deliver(succeeded(legacyIntent))).body.outcome).toBe('applied');
    expect(await ledgerRecord(parts, legacy)).toMatchObject({ status: 'charged', paymentId: legacyIntent.id });
    // A Dashboard refund of it (no metadata) is traced through its PaymentIntent to the same record.
    expect((await deliver(stripeEvent('refund.created', legacyIntent.created + 2, refundObject(legacyIntent, 3000)))).body.outcome).toBe('applied');
    expect(await ledgerRecord(parts, legacy)).toMatchObject({ status: 'refunded', amountRefunded: 3000 });

    // A record of this namespace never takes a fact of a payment without one.
    const current = newOrderId('namespaced');
    await paymentIntent(current);
    const impostor = await parts.stripe.paymentIntents.create(
      { amount: 3000, currency: 'eur', metadata: paymentMetadata(BEFORE_NAMESPACES, current) },
      { idempotencyKey: `impostor-${current}` },
    );
    const before = await ledgerRecord(parts, current);
    expect((await deliver(succeeded(impostor))).body.outcome).toBe('conflict');
    expect(await ledgerRecord(parts, current)).toEqual(before);
  });

  it("applies the events of an order made under an earlier namespace to its record after the namespace changed, and ignores another deployment's", async () => {
    const earlier = newOrderId('earlier-namespace');
    const intent = await createPaymentAt(earlier, 'earlier');
    // The customer finishes 3-D Secure after the deployment moved to another namespace; then support refunds in the Dashboard.
    expect((await deliver(stripeEvent('payment_intent.succeeded', intent.created + 1, intentObject(intent, 'succeeded')))).body.outcome).toBe('applied');
    expect((await deliver(stripeEvent('refund.created', intent.created + 2, refundObject(intent, 3000)))).body.outcome).toBe('applied');
    expect(await ledgerRecord(parts, earlier)).toMatchObject({ namespace: 'earlier', status: 'refunded', amountRefunded: 3000, paymentId: intent.id });

    // Another deployment on the same Stripe account: its payment for an orderId this ledger also has, and one it does not.
    const ours = newOrderId('same-order-id');
    await paymentIntent(ours);
    const before = await ledgerRecord(parts, ours);
    const staging = await paymentIntent(ours, { metadata: paymentMetadata('staging', ours), key: `staging-${ours}`, recorded: false });
    expect((await deliver(stripeEvent('payment_intent.succeeded', staging.created, intentObject(staging, 'succeeded')))).body.outcome).toBe('ignored');
    const unknown = await paymentIntent(newOrderId('staging-only'), { metadata: paymentMetadata('staging', 'staging-only'), recorded: false });
    expect((await deliver(stripeEvent('payment_intent.succeeded', unknown.created, intentObject(unknown, 'succeeded')))).body.outcome).toBe('ignored');
    expect(await ledgerRecord(parts, ours)).toEqual(before);
  });

  it('keeps what an order recorded before per-refund tracking had refunded, without counting those refunds twice', async () => {
    const orderId = newOrderId('before-refund-tracking');
    expect((await post(chargeHandler(parts), { orderId, amount: 3000, currency: 'eur', paymentMethod: 'pm_card_visa' })).statusCode).toBe(201);
    const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    const earlier = parts.stripeEmulator.dashboard.refund(intent.id, { amount: 1000 });
    // As a charge.refunded fact left the record before refunds were kept one by one (a second later, on our clock).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await setLedgerField(parts, orderId, 'status', 'partially_refunded');
    await parts.dynamoDb.send(
      new UpdateItemCommand({
        TableName: parts.tables.ledgerTableName,
        Key: { orderId: { S: orderId } },
        UpdateExpression: 'SET amountRefunded = :refunded, updatedAt = :now',
        ExpressionAttributeValues: { ':refunded': { N: '1000' }, ':now': { S: new Date().toISOString() } },
      }),
    );
    // The upgrade's first catch-up (or a late webhook) brings that refund's event, then a new refund's.
    const created = (refund: { id: string; amount: number; created: number }) =>
      stripeEvent('refund.created', refund.created, {
        ...refundObject(intent as unknown as Stripe.PaymentIntent, refund.amount, refund.id),
        created: refund.created,
      });
    expect((await deliver(created(earlier))).body.outcome).toBe('stale');
    const later = parts.stripeEmulator.dashboard.refund(intent.id, { amount: 500 });
    expect((await deliver(created(later))).body.outcome).toBe('applied');
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1500, refundReserved: 1500 });
  });

  it('ignores a refund whose PaymentIntent Stripe does not know, and charge.refunded altogether (each refund has its own events)', async () => {
    const ghost = { id: 'pi_ghost', amount: 100, currency: 'eur' } as Stripe.PaymentIntent;
    expect((await deliver(stripeEvent('refund.created', 1_800_000_000, refundObject(ghost, 100)))).body.outcome).toBe('ignored');
    const orderId = newOrderId('charge-refunded');
    expect((await post(chargeHandler(parts), { orderId, amount: 3000, currency: 'eur', paymentMethod: 'pm_card_visa' })).statusCode).toBe(201);
    const before = await ledgerRecord(parts, orderId);
    const [intent] = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    const chargeRefunded = {
      id: 'ch_1',
      object: 'charge',
      amount: 3000,
      amount_refunded: 3000,
      refunded: true,
      payment_intent: intent.id,
      metadata: intent.metadata,
    };
    expect((await deliver(stripeEvent('charge.refunded', intent.created + 1, chargeRefunded))).body.outcome).toBe('ignored');
    expect(await ledgerRecord(parts, orderId)).toEqual(before);
  });

  it('refuses a fact about another PaymentIntent of a charged order (conflict), and keeps the charge', async () => {
    const orderId = newOrderId('other-intent');
    expect((await post(chargeHandler(parts), { orderId, amount: 3000, currency: 'eur', paymentMethod: 'pm_card_visa' })).statusCode).toBe(201);
    const charged = await ledgerRecord(parts, orderId);
    const other = await paymentIntent(orderId, { key: `other-${orderId}` });
    const answer = await deliver(stripeEvent('payment_intent.canceled', other.created + 60, intentObject(other, 'canceled')));
    expect(answer).toEqual({ status: 200, body: { received: true, outcome: 'conflict' } });
    expect(await ledgerRecord(parts, orderId)).toEqual(charged);
  });

  it('settles two events of the same second the same way whichever arrives first', async () => {
    const states = [];
    for (const order of [
      [0, 1],
      [1, 0],
    ]) {
      const orderId = newOrderId('same-second');
      const intent = await paymentIntent(orderId);
      const failed = (code: string) =>
        stripeEvent(
          'payment_intent.payment_failed',
          intent.created,
          intentObject(intent, 'requires_payment_method', { last_payment_error: { decline_code: code } }),
        );
      const events = [failed('insufficient_funds'), failed('lost_card')];
      for (const index of order) await deliver(events[index]);
      const { status, declineCode, lastEventId } = (await ledgerRecord(parts, orderId)) as unknown as Record<string, string>;
      states.push({ status, declineCode, winner: lastEventId === events[0].id ? 0 : 1 });
    }
    expect(states[0]).toEqual(states[1]);
  });

  /** Every order of the events, each possibly delivered more than once, must end in the same state. */
  const deliveries = (count: number) =>
    fc
      .tuple(fc.shuffledSubarray([...Array(count).keys()], { minLength: count, maxLength: count }), fc.array(fc.nat(count - 1), { maxLength: 4 }))
      .chain(([order, repeats]) => fc.shuffledSubarray([...order, ...repeats], { minLength: order.length + repeats.length }));

  it('ends succeeded → partly refunded → refunded in the refunded state, whatever the order and repeats (a refund before the charge is delivered again)', async () => {
    await fc.assert(
      fc.asyncProperty(deliveries(4), async (sequence) => {
        const orderId = newOrderId('refund-order');
        const intent = await paymentIntent(orderId);
        const pending = { ...refundObject(intent, 2000, `re_b_${orderId}`), status: 'pending' };
        const events = [
          stripeEvent('payment_intent.succeeded', intent.created + 1, intentObject(intent, 'succeeded')),
          stripeEvent('refund.created', intent.created + 2, refundObject(intent, 1000, `re_a_${orderId}`)),
          stripeEvent('refund.created', intent.created + 3, pending),
          stripeEvent('refund.updated', intent.created + 4, { ...pending, status: 'succeeded' }),
        ];
        const later: number[] = [];
        for (const index of sequence) {
          const { status } = await deliver(events[index]);
          // 409: the order's payment is not recorded yet; Stripe delivers the event again.
          if (status === 409) later.push(index);
          else expect(status).toBe(200);
        }
        for (const index of later) expect((await deliver(events[index])).status).toBe(200);
        expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'refunded', amountRefunded: 3000, refundReserved: 3000, paymentId: intent.id });
      }),
      { numRuns: 20 },
    );
  });

  it('ends failed → succeeded (a second card) in the charged state, whatever the order and repeats', async () => {
    await fc.assert(
      fc.asyncProperty(deliveries(2), async (sequence) => {
        const orderId = newOrderId('retry-order');
        const intent = await paymentIntent(orderId);
        const events = [
          stripeEvent(
            'payment_intent.payment_failed',
            intent.created,
            intentObject(intent, 'requires_payment_method', {
              last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' },
            }),
          ),
          stripeEvent('payment_intent.succeeded', intent.created + 5, intentObject(intent, 'succeeded')),
        ];
        for (const index of sequence) expect((await deliver(events[index])).status).toBe(200);
        expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'charged', paymentStatus: 'succeeded' });
      }),
      { numRuns: 15 },
    );
  });

  it('keeps facts a webhook wrote while the charge was in flight: the late charge answer does not overwrite them', async () => {
    const orderId = newOrderId('in-flight');
    const intent = await paymentIntent(orderId);
    const ledger = createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName);
    await ledger.createPendingOrGet(
      pendingRecordOf({ orderId, amount: 3000, currency: 'eur' }, { channel: 'api', namespace: TEST_NAMESPACE }, new Date().toISOString()),
    );
    await deliver(stripeEvent('payment_intent.succeeded', intent.created + 1, intentObject(intent, 'succeeded')));
    await deliver(stripeEvent('refund.created', intent.created + 2, refundObject(intent, 3000)));

    const answer = await ledger.finalize(orderId, { status: 'charged', paymentId: intent.id, paymentStatus: 'succeeded' }, new Date().toISOString());
    expect(answer).toMatchObject({ status: 'refunded' });
    expect(await ledgerRecord(parts, orderId)).toMatchObject({ status: 'refunded', amountRefunded: 3000 });
  });
});

describe("the local loop through npm start's runtime", () => {
  let runtime: LocalRuntime;
  let emulator: StripeEmulator;
  beforeAll(async () => {
    runtime = await startLocalRuntime({ port: 0, namePrefix: 'w-', stripeWebhookSecret: 'whsec_local_loop' });
    emulator = runtime.stripeEmulator as StripeEmulator;
  });
  afterAll(() => runtime?.stop());

  const payment = async (orderId: string) => (await fetch(`${runtime.url}/payments/${orderId}`)).json() as Promise<Record<string, unknown>>;
  const lastEventIdOf = async (orderId: string) => {
    const client = localDynamoDbClient(runtime.dynamoDbEndpoint);
    try {
      return (await createLedgerReader(client, runtime.tables.ledgerTableName)(orderId))?.lastEventId;
    } finally {
      client.destroy();
    }
  };
  const charge = (orderId: string) =>
    fetch(`${runtime.url}/payments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ orderId, amount: 4100, currency: 'eur', paymentMethod: 'pm_card_visa' }),
    });

  it('charges through the API; payment_intent.succeeded delivered twice; GET shows the charge', async () => {
    emulator.webhooks.deliverEachTimes(2);
    const orderId = newOrderId('loop');
    expect((await charge(orderId)).status).toBe(201);
    await emulator.webhooks.settled();

    const [intent] = emulator.paymentIntentsForOrder(orderId);
    const event = emulator.webhooks.events().find((e) => e.type === 'payment_intent.succeeded' && (e.data.object as { id: string }).id === intent.id);
    const answered = emulator.webhooks.deliveries().filter((d) => d.eventId === event?.id && d.status === 200);
    expect(answered).toHaveLength(2); // both copies answered 200: one applied, one a duplicate
    expect(await payment(orderId)).toMatchObject({ orderId, status: 'charged', paymentStatus: 'succeeded', amount: 4100 });
    // The webhook's fact (not only the charge's answer) reached the ledger.
    expect(await lastEventIdOf(orderId)).toBe(event?.id);
  });

  it('shows a dispute Stripe opens (the dispute test card), refuses to refund it meanwhile, and follows it to its close', async () => {
    const orderId = newOrderId('loop-dispute');
    const created = await fetch(`${runtime.url}/payments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ orderId, amount: 4100, currency: 'eur', paymentMethod: 'pm_card_createDispute' }),
    });
    expect(created.status).toBe(201);
    await emulator.webhooks.settled();
    expect(await payment(orderId)).toMatchObject({ status: 'charged', dispute: { status: 'needs_response', amount: 4100, reason: 'fraudulent' } });

    const refund = await fetch(`${runtime.url}/payments/${orderId}/refunds`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refundId: 'while-disputed' }),
    });
    expect(refund.status).toBe(409);
    expect(((await refund.json()) as { error: { code: string } }).error.code).toBe('order_not_refundable');

    const [intent] = emulator.paymentIntentsForOrder(orderId);
    const opened = emulator.webhooks
      .events()
      .find((e) => e.type === 'charge.dispute.created' && (e.data.object as { payment_intent: string }).payment_intent === intent.id);
    expect(opened).toBeDefined();
    emulator.disputes.close(((opened as StripeEvent).data.object as { id: string }).id, 'lost');
    await emulator.webhooks.settled();
    expect(await payment(orderId)).toMatchObject({ dispute: { status: 'lost' } });
  });

  it("applies a refund delivered before the charge's own event (out of order) and ends refunded", async () => {
    emulator.webhooks.deliverEachTimes(1);
    const orderId = newOrderId('loop-reverse');
    emulator.webhooks.hold();
    expect((await charge(orderId)).status).toBe(201);
    const stripe = new Stripe(emulator.apiKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http' });
    const [intent] = emulator.paymentIntentsForOrder(orderId);
    await stripe.refunds.create({ payment_intent: intent.id });
    await emulator.webhooks.release('reverse');

    expect(await payment(orderId)).toMatchObject({ status: 'refunded', amountRefunded: 4100 });
    const mine = emulator.webhooks
      .deliveries()
      .filter((d) => emulator.webhooks.events().some((e) => e.id === d.eventId && JSON.stringify(e).includes(intent.id)));
    expect(mine.every((d) => d.status === 200)).toBe(true);
  });

  it('clears the decline code once a declined order is paid with another card', async () => {
    const orderId = newOrderId('loop-declined');
    const declined = await fetch(`${runtime.url}/payments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ orderId, amount: 4100, currency: 'eur', paymentMethod: 'pm_card_chargeDeclined' }),
    });
    expect(declined.status).toBe(402);
    await emulator.webhooks.settled();
    expect(await payment(orderId)).toMatchObject({ status: 'declined', declineCode: 'generic_decline' });

    // The customer pays the same PaymentIntent with another card (Stripe.js); Stripe tells the webhook.
    const stripe = new Stripe(emulator.apiKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http' });
    const [intent] = emulator.paymentIntentsForOrder(orderId);
    await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });
    await emulator.webhooks.settled();
    const paid = await payment(orderId);
    expect(paid).toMatchObject({ status: 'charged', paymentStatus: 'succeeded' });
    expect(paid).not.toHaveProperty('declineCode');
  });

  it('moves a payment that needed the customer to charged once Stripe says it succeeded', async () => {
    const orderId = newOrderId('loop-3ds');
    const created = await fetch(`${runtime.url}/payments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ orderId, amount: 4100, currency: 'eur', paymentMethod: 'pm_card_authenticationRequired' }),
    });
    const answer = (await created.json()) as { status: string; clientSecret?: string; paymentId: string };
    expect(answer).toMatchObject({ status: 'requires_action' });
    expect(answer.clientSecret).toBeDefined();
    await emulator.webhooks.settled();
    expect(await payment(orderId)).toMatchObject({ status: 'requires_action' });

    // The customer finishes the payment in the browser; Stripe tells the webhook.
    const stripe = new Stripe(emulator.apiKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http' });
    await stripe.paymentIntents.confirm(answer.paymentId, { payment_method: 'pm_card_visa' });
    await emulator.webhooks.settled();
    expect(await payment(orderId)).toMatchObject({ status: 'charged', paymentStatus: 'succeeded' });
  });
});
