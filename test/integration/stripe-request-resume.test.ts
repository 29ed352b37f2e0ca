import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { parse } from 'qs';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import { createPersonalDataStore } from '../../lambdas/adapters/personal-data';
import { PAYMENT_METADATA } from '../../lambdas/contract/payment-metadata';
import type { ChargeRequest } from '../../lambdas/contract/payment-request';
import { IDEMPOTENCY_EXPIRY_SECONDS, PERSONAL_DATA_EXPIRY_SECONDS } from '../../lambdas/contract/settings';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { lambdaContext } from '../../local/lambda-context';
import { faultyServiceOptions, LOCK_MS } from '../support/fault-runs';
import { type Fault, type FaultPlan, faultOnce, faultyStripe, type SentCreate } from '../support/faults';
import { type LocalParts, ledgerRecord, postEvent, silentLogger, startLocalParts, TEST_NAMESPACE } from '../support/local-parts';
import { fullOrder } from '../support/orders';

/**
 * What Stripe receives is rebuilt from what is stored: a charge that crashes after Stripe was
 * called, at each step after it, is resumed by the same request, and every PaymentIntent create
 * the two calls send is the same, byte for byte. Stripe would otherwise refuse the resume
 * (`idempotency_key_reused`), and the order would stay unsettled.
 */
const CRASHES_AFTER_STRIPE: Fault[] = [
  { step: 'Stripe call', kind: 'crashes after' },
  { step: 'ledger finalize', kind: 'crashes before' },
  { step: 'ledger finalize', kind: 'crashes after' },
  { step: 'key complete', kind: 'crashes before' },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let parts: LocalParts;
beforeAll(async () => {
  parts = await startLocalParts();
});
afterAll(() => parts?.stop());

/** A charge Lambda whose PaymentIntent creates are recorded as they leave, meeting the plan's faults. */
function chargeLambda(plan: FaultPlan, sent: SentCreate[]) {
  const options = faultyServiceOptions(parts, { namespace: TEST_NAMESPACE, tables: parts.tables }, plan);
  const stripe = faultyStripe(parts.stripeEmulator.apiKey, parts.stripeEmulator.url, plan, 'charge', (create) => sent.push(create));
  const handler = createChargePaymentHandler(createChargeService({ ...options, stripe: async () => stripe }, 'api'), silentLogger);
  return { handler, destroy: () => options.dynamoDb.destroy() };
}

/** The first call crashes at the fault; once its lock is gone, the client sends the same request again. */
async function crashThenResume(order: ChargeRequest, fault: Fault) {
  const sent: SentCreate[] = [];
  const plan = faultOnce(fault);
  const crashing = chargeLambda(plan, sent);
  const resuming = chargeLambda(() => undefined, sent);
  try {
    // It never answers once the fault strikes; an answer before that means it never reached the step.
    let answeredFirst: unknown;
    crashing.handler(postEvent(order), lambdaContext(LOCK_MS)).then(
      (answer) => {
        answeredFirst = answer;
      },
      (error: unknown) => {
        answeredFirst = error;
      },
    );
    while (plan.struck() === 0) {
      if (answeredFirst !== undefined) throw new Error(`the first call ended before the fault at ${fault.step}: ${JSON.stringify(answeredFirst)}`);
      await sleep(20);
    }
    await sleep(LOCK_MS + 300);
    const answer = await resuming.handler(postEvent(order), lambdaContext());
    return { answer, sent, intents: parts.stripeEmulator.paymentIntentsForOrder(order.orderId, TEST_NAMESPACE) };
  } finally {
    crashing.destroy();
    resuming.destroy();
  }
}

describe('a charge resumed after a crash after Stripe was called', () => {
  it('sends the exact create parameters, built from the stored order with every optional field', async () => {
    const order = fullOrder(`exact-${randomUUID()}`);
    const { answer, sent } = await crashThenResume(order, CRASHES_AFTER_STRIPE[0]);
    expect(answer.statusCode).toBe(201);
    expect(sent).toHaveLength(2);
    expect(sent[0].idempotencyKey).toBe(`${TEST_NAMESPACE}:${order.orderId}`);
    // The e-mail address came from the key table, which forgets it with Stripe's key; the ledger never had it.
    expect(JSON.stringify(await ledgerRecord(parts, order.orderId))).not.toContain(order.receiptEmail);
    const { Item } = await DynamoDBDocumentClient.from(parts.dynamoDb).send(
      new GetCommand({ TableName: parts.tables.idempotencyTableName, Key: { id: `personalData#${sent[0].idempotencyKey}` } }),
    );
    expect(Item?.data).toEqual({ receiptEmail: order.receiptEmail });
    expect(Item?.expiration).toBeCloseTo(Date.now() / 1000 + PERSONAL_DATA_EXPIRY_SECONDS, -2);
    expect(parse(sent[0].body)).toEqual({
      amount: String(order.amount),
      currency: order.currency,
      customer: order.customerId,
      description: order.description,
      payment_method: order.paymentMethod,
      receipt_email: order.receiptEmail,
      confirm: 'true',
      automatic_payment_methods: { enabled: 'true', allow_redirects: 'never' },
      metadata: {
        [PAYMENT_METADATA.orderId]: order.orderId,
        [PAYMENT_METADATA.marker]: PAYMENT_METADATA.markerValue,
        [PAYMENT_METADATA.namespace]: TEST_NAMESPACE,
      },
    });
  });

  it('sends byte-identical parameters on every attempt and ends with one PaymentIntent, whatever the order and the step (property)', async () => {
    const orders = fc.record<Required<ChargeRequest>>({
      orderId: fc.uuid().map((id) => `resume-${id}`),
      // From Stripe's smallest charge in these currencies.
      amount: fc.integer({ min: 100, max: 99_999_999 }),
      currency: fc.constantFrom('eur', 'usd', 'jpy'),
      paymentMethod: fc.constant('pm_card_visa'),
      customerId: fc.stringMatching(/^cus_[A-Za-z0-9]{1,20}$/),
      description: fc.string({ minLength: 1, maxLength: 200, unit: 'grapheme' }),
      receiptEmail: fc.emailAddress(),
    });
    await fc.assert(
      fc.asyncProperty(orders, async (template) => {
        // Every step at once, each with its own order.
        const runs = await Promise.all(CRASHES_AFTER_STRIPE.map((fault, n) => crashThenResume({ ...template, orderId: `${template.orderId}-${n}` }, fault)));
        for (const { answer, sent, intents } of runs) {
          // 201 charged by the resume, or 200 already_processed when the crashed call had finished the ledger.
          expect([200, 201]).toContain(answer.statusCode);
          expect(['charged', 'already_processed']).toContain(JSON.parse(answer.body).status);
          expect(intents).toHaveLength(1);
          expect(sent.length).toBeGreaterThan(0);
          expect(new Set(sent.map(({ body, idempotencyKey }) => `${idempotencyKey}\n${body}`)).size).toBe(1);
        }
      }),
      // Shrinking re-runs whole crashes: a failure is reported as found.
      { numRuns: 6, endOnFailure: true },
    );
  }, 120_000);
});

describe("an order's personal data in the key table", () => {
  it("outlives Stripe's key, and an item past its expiry that DynamoDB has not deleted yet still wins", async () => {
    expect(PERSONAL_DATA_EXPIRY_SECONDS).toBeGreaterThan(IDEMPOTENCY_EXPIRY_SECONDS);
    const store = createPersonalDataStore(parts.dynamoDb, parts.tables.idempotencyTableName);
    const orderId = `kept-${randomUUID()}`;
    await store.keep(TEST_NAMESPACE, orderId, { receiptEmail: 'first@example.com' }, true);
    const documents = DynamoDBDocumentClient.from(parts.dynamoDb);
    await documents.send(
      new UpdateCommand({
        TableName: parts.tables.idempotencyTableName,
        Key: { id: `personalData#${TEST_NAMESPACE}:${orderId}` },
        UpdateExpression: 'SET expiration = :past',
        ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 60 },
      }),
    );
    await expect(store.keep(TEST_NAMESPACE, orderId, { receiptEmail: 'second@example.com' }, false)).resolves.toEqual({ receiptEmail: 'first@example.com' });
    // A new record (the first request refused and released) replaces it.
    await expect(store.keep(TEST_NAMESPACE, orderId, { receiptEmail: 'second@example.com' }, true)).resolves.toEqual({ receiptEmail: 'second@example.com' });
  });
});
