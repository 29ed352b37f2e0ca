import { randomUUID } from 'node:crypto';
import { createChargeService, createRefundService } from '../../lambdas/adapters/charge-service';
import { createLedgerReader } from '../../lambdas/adapters/dynamodb-ledger';
import type { AuditReport } from '../../lambdas/core/audit';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { createRefundPaymentHandler } from '../../lambdas/handlers/refund-payment';
import { lambdaContext } from '../../local/lambda-context';
import { createTables, localTableNames } from '../../local/tables';
import { auditDeployment, type Deployment, faultyServiceOptions, LOCK_MS, runToQuiescence } from '../support/fault-runs';
import { FAULT_KINDS, type Fault, faultOnce, REFUND_STEPS } from '../support/faults';
import { type LocalParts, postEvent, refundEvent, serviceOptions, silentLogger, startLocalParts } from '../support/local-parts';
import { refundsAtStripe as refundsAtStripeOf } from '../support/refunds';

/**
 * The proof for refunds: a crash or a failure before and after each step of a refund (claim the
 * key, reserve the amount, call Stripe, record its answer, complete the key). The client never
 * retries and no webhook is sent; the reconciler runs until nothing is open. Then, for every cell:
 * at most one Stripe refund for the refundId, never more refunded than charged, the ledger's
 * refunds equal Stripe's, and the audit finds no difference. The same request sent once more
 * afterwards still makes no second refund.
 */
const CELLS: Fault[] = REFUND_STEPS.flatMap((step) => FAULT_KINDS.map((kind) => ({ step, kind })));
const AMOUNT = 5000;
const REFUND = { refundId: 'refund-1', amount: 2000 };

let parts: LocalParts;
let deployment: Deployment;
const answers = new Map<string, number | undefined>();
const struck = new Map<string, number>();
let audit: AuditReport;
const orderIdOf = (fault: Fault) => `${deployment.namespace}-${fault.step.replace(/ /g, '-')}-${fault.kind.replace(/ /g, '-')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A call that has not answered by then crashed: well past a faulted Stripe call's retries (about 2 s), even on a loaded machine. */
const CRASHED_AFTER_MS = 8_000;
const body = (response: { body: string }) => JSON.parse(response.body);

const refundsAtStripe = (paymentId: string) => refundsAtStripeOf(parts, paymentId);

beforeAll(async () => {
  parts = await startLocalParts();
  const namespace = `refund-matrix-${randomUUID().slice(0, 6)}`;
  deployment = { namespace, tables: localTableNames(`${namespace}-`) };
  await createTables(parts.dynamoDb, deployment.tables);
  const clean = { ...serviceOptions(parts), ...deployment.tables, namespace };
  const charge = createChargePaymentHandler(createChargeService(clean, 'api'), silentLogger);
  const clients: Array<{ destroy(): void }> = [];
  await Promise.all(
    CELLS.map(async (fault) => {
      const orderId = orderIdOf(fault);
      expect((await charge(postEvent({ orderId, amount: AMOUNT, currency: 'eur', paymentMethod: 'pm_card_visa' }), lambdaContext())).statusCode).toBe(201);
      const plan = faultOnce(fault);
      const options = faultyServiceOptions(parts, deployment, plan, 'refund');
      clients.push(options.dynamoDb);
      const refund = createRefundPaymentHandler(createRefundService(options), silentLogger);
      // One call, never retried; a crashed one never answers.
      const answer = await Promise.race([refund(refundEvent(orderId, REFUND), lambdaContext(LOCK_MS)), sleep(CRASHED_AFTER_MS).then(() => undefined)]);
      answers.set(orderId, answer?.statusCode);
      struck.set(orderId, plan.struck());
    }),
  );
  for (const client of clients) client.destroy();
  await runToQuiescence(parts, deployment, async () => true);
  audit = await auditDeployment(parts, deployment);
}, 120_000);
afterAll(() => parts?.stop());

describe('the refund path, a fault at every step, no retry by the client and no webhook', () => {
  it('ends with the audit finding no difference between Stripe and the ledger', () => {
    expect(audit.discrepancies).toEqual([]);
    expect(audit.ledgerRecords).toBe(CELLS.length);
  });

  it.each(CELLS)('$step, $kind: at most one Stripe refund, never more than charged, the ledger equal to Stripe', async (fault) => {
    const orderId = orderIdOf(fault);
    expect(struck.get(orderId)).toBeGreaterThan(0);
    const answer = answers.get(orderId);
    if (fault.kind.startsWith('crashes')) expect(answer).toBeUndefined();
    else if (fault.step === 'key complete') expect(answer).toBe(201);
    else expect([502, 503]).toContain(answer);

    const record = await createLedgerReader(parts.dynamoDb, deployment.tables.ledgerTableName)(orderId);
    const refunds = await refundsAtStripe(record?.paymentId as string);
    expect(refunds.length).toBeLessThanOrEqual(1);
    const refunded = refunds.reduce((sum, refund) => sum + refund.amount, 0);
    expect(refunded).toBeLessThanOrEqual(AMOUNT);
    // Settled: the refund Stripe made, or nothing reserved for one it never made.
    expect({ amountRefunded: record?.amountRefunded ?? 0, refundReserved: record?.refundReserved ?? 0 }).toEqual({
      amountRefunded: refunded,
      refundReserved: refunded,
    });
    if (refunds.length === 1) expect(record?.refunds?.[REFUND.refundId]).toMatchObject({ status: 'succeeded', stripeRefundId: refunds[0].id });
    else expect(record?.refunds?.[REFUND.refundId]).toBeUndefined();

    // The client's same request, sent once more: the same refund, or the one it never got; never a second.
    const again = await createRefundPaymentHandler(
      createRefundService({ ...serviceOptions(parts), ...deployment.tables, namespace: deployment.namespace }),
      silentLogger,
    )(refundEvent(orderId, REFUND), lambdaContext());
    expect([200, 201]).toContain(again.statusCode);
    const after = await refundsAtStripe(record?.paymentId as string);
    expect(after).toHaveLength(1);
    expect(body(again).stripeRefundId).toBe(after[0].id);
  });
});
