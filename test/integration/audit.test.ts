import { randomUUID } from 'node:crypto';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import { createDynamoDbLedger, createLedgerReader, createLedgerWindowReader } from '../../lambdas/adapters/dynamodb-ledger';
import { createStripeAuditSource, createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { paymentMetadata } from '../../lambdas/contract/payment-metadata';
import { PENDING_GRACE_SECONDS } from '../../lambdas/contract/settings';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { createAudit, windowStart } from '../../lambdas/core/audit';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { runLocalAudit } from '../../local/audit-state-machine';
import { lambdaContext } from '../../local/lambda-context';
import { createTables, localTableNames } from '../../local/tables';
import { type LocalParts, newOrderId, postEvent, serviceOptions, setLedgerField, silentLogger, startLocalParts } from '../support/local-parts';
import { paymentIntentCreateFor } from '../support/orders';

/** The audit against DynamoDB Local and the Stripe emulator; each test in a namespace and tables of its own. */
let shared: LocalParts;
let parts: LocalParts;
let namespace: string;
beforeAll(async () => {
  shared = await startLocalParts();
});
afterAll(() => shared?.stop());
beforeEach(async () => {
  namespace = `audit-${randomUUID().slice(0, 8)}`;
  const tables = localTableNames(`${namespace}-`);
  await createTables(shared.dynamoDb, tables);
  parts = { ...shared, tables };
});

const order = (orderId: string, paymentMethod = 'pm_card_visa') => ({ orderId, amount: 1800, currency: 'eur', paymentMethod });
const charge = (body: unknown) =>
  createChargePaymentHandler(createChargeService(serviceOptions(parts, parts.dynamoDb, namespace), 'api'), silentLogger)(postEvent(body), lambdaContext());
const audit = () =>
  createAudit({
    ...createStripeAuditSource(async () => parts.stripe, namespace, Number.POSITIVE_INFINITY),
    recordsCreatedBetween: createLedgerWindowReader(parts.dynamoDb, parts.tables.ledgerTableName),
    readRecord: createLedgerReader(parts.dynamoDb, parts.tables.ledgerTableName),
    inFlightSeconds: PENDING_GRACE_SECONDS,
  })(windowStart('24h'));

const rewriteLedger = (orderId: string, field: string, value: string) => setLedgerField(parts, orderId, field, value);

describe('the audit of Stripe against the ledger', () => {
  it("finds no difference after charges, declines and payments that need the customer, across pages of Stripe's listing", async () => {
    const orderIds = Array.from({ length: 105 }, (_, i) => newOrderId(`agree-${i}`));
    for (const [i, orderId] of orderIds.entries()) {
      const paymentMethod = i % 10 === 0 ? 'pm_card_chargeDeclined' : i % 10 === 1 ? 'pm_card_authenticationRequired' : 'pm_card_visa';
      expect([201, 402]).toContain((await charge(order(orderId, paymentMethod))).statusCode);
    }
    const report = await audit();
    expect(report).toMatchObject({ paymentsAtStripe: 105, ledgerRecords: 105, discrepancies: [] });
  });

  it('reports an orphan charge, a state the ledger got wrong, and a PaymentIntent Stripe does not have', async () => {
    const [orphan, wrongState, ghost, fine] = ['orphan', 'wrong-state', 'ghost', 'fine'].map((label) => newOrderId(label));
    // Charged at Stripe by this deployment, never recorded.
    await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(order(orphan), namespace));
    for (const orderId of [wrongState, ghost, fine]) expect((await charge(order(orderId))).statusCode).toBe(201);
    await rewriteLedger(wrongState, 'status', 'declined');
    await rewriteLedger(ghost, 'paymentId', 'pi_ghost');

    const { discrepancies } = await audit();
    expect(discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'payment_without_record', orderId: orphan }),
        expect.objectContaining({ kind: 'state', orderId: wrongState, ledger: 'declined', stripe: 'charged' }),
        expect.objectContaining({ kind: 'other_payment', orderId: ghost, ledger: 'pi_ghost' }),
        expect.objectContaining({ kind: 'payment_missing_at_stripe', orderId: ghost, paymentId: 'pi_ghost' }),
      ]),
    );
    expect(discrepancies.some((d) => d.orderId === fine)).toBe(false);
  });

  it("takes no other deployment's PaymentIntents into account", async () => {
    await createStripePayments(async () => parts.stripe).createPayment(paymentIntentCreateFor(order(newOrderId('elsewhere')), `${namespace}-other`));
    expect(await audit()).toMatchObject({ paymentsAtStripe: 0, discrepancies: [] });
  });
});

describe("the audit's ledger reader", () => {
  it('reads the records created in [since, until) through the keys-only index, across days and in batches of a hundred', async () => {
    const ledger = createDynamoDbLedger(parts.dynamoDb, parts.tables.ledgerTableName);
    const since = new Date('2026-11-27T23:59:00.000Z');
    const until = new Date('2026-11-28T00:01:00.000Z');
    const at = (ms: number) => new Date(since.getTime() + ms).toISOString();
    const times = [-1, 0, ...Array.from({ length: 150 }, (_, i) => 1 + i * 700), 119_999, 120_000];
    for (const [i, createdAt] of times.map(at).entries()) {
      await ledger.createPendingOrGet({ orderId: `window-${i}`, status: 'pending', amount: 1800, currency: 'eur', namespace, createdAt, updatedAt: createdAt });
    }
    const read: string[] = [];
    for await (const record of createLedgerWindowReader(parts.dynamoDb, parts.tables.ledgerTableName)(since, until)) read.push(record.createdAt);
    expect(read.sort()).toEqual(times.slice(1, -1).map(at).sort());
  });
});

describe("the audit's Stripe listing", () => {
  it('asks for each page at its pace (its share of the Stripe budget), and reads every PaymentIntent of the slice once', async () => {
    const minute = Math.floor(Date.now() / 1000) - 2 * 86_400;
    const seeded = parts.stripeEmulator.seedPaymentIntents(
      Array.from({ length: 250 }, (_, i) => ({
        amount: 1000,
        currency: 'eur',
        metadata: paymentMetadata(namespace, `paced-${i}`),
        created: minute + (i % 60),
      })),
    );
    const source = createStripeAuditSource(async () => parts.stripe, namespace, 5);
    const started = Date.now();
    const listed: string[] = [];
    for await (const payment of source.paymentsCreatedBetween(new Date(minute * 1000), new Date((minute + 60) * 1000))) listed.push(payment.paymentId);
    // Three pages, 200 ms apart at 5 requests/s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(listed.sort()).toEqual(seeded.map(({ id }) => id).sort());
  });
});

describe("the audit's state machine, run locally", () => {
  it('compares the window slice by slice through the definition the stack deploys, and gives one verdict naming the difference', async () => {
    const [fine, wrong] = ['fine', 'wrong'].map((label) => newOrderId(label));
    for (const orderId of [fine, wrong]) expect((await charge(order(orderId))).statusCode).toBe(201);
    await rewriteLedger(wrong, 'amount', '1700');
    // The plan ends the window on a whole second (Stripe's `created` has no finer one): let this second pass, so both orders are in it.
    await new Promise((resolve) => setTimeout(resolve, 1_001 - (Date.now() % 1_000)));
    const verdict = await runLocalAudit(
      {
        dynamoDb: parts.dynamoDb,
        ledgerTableName: parts.tables.ledgerTableName,
        stripe: async () => parts.stripe,
        namespace,
        budget: stripeBudgetOf(1000),
        inFlightSeconds: PENDING_GRACE_SECONDS,
        sliceSeconds: 3600,
        logger: silentLogger,
      },
      { since: '3h' },
    );
    expect(verdict).toMatchObject({ slices: 3, paymentsAtStripe: 2, ledgerRecords: 2, unlisted: 0 });
    expect(verdict.discrepancies).toEqual([{ kind: 'amount', orderId: wrong, paymentId: expect.stringMatching(/^pi_/), ledger: '1700', stripe: '1800' }]);
  });
});
