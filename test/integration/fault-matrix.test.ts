import { createHash, randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import { createLedgerReader } from '../../lambdas/adapters/dynamodb-ledger';
import type { ChargeRequest } from '../../lambdas/contract/payment-request';
import { IDEMPOTENCY_KEY_PREFIX } from '../../lambdas/contract/settings';
import { idempotencyTable } from '../../lambdas/contract/tables';
import type { AuditReport } from '../../lambdas/core/audit';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import { personalDataOf } from '../../lambdas/core/stripe-requests';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { lambdaContext } from '../../local/lambda-context';
import type { QueuePoller } from '../../local/queue-poller';
import { localSqsClient, type SqsEmulator, startSqsEmulator } from '../../local/queues';
import { createTables, localTableNames, type TableNames } from '../../local/tables';
import { auditDeployment, faultyServiceOptions, LOCK_MS, messagesOn, runToQuiescence, startFaultyWorker } from '../support/fault-runs';
import { FAULT_KINDS, type Fault, faultOnce, STEPS, type Step } from '../support/faults';
import { type LocalParts, postEvent, silentLogger, startLocalParts } from '../support/local-parts';
import { fullOrder } from '../support/orders';

/**
 * The proof: a crash or a failure before and after each step of a charge, on the sync path and on
 * the queue path. The client never retries and no webhook is sent; the queue and the reconciler
 * run until nothing moves. Then, for every cell: at most one PaymentIntent, the ledger agrees
 * with Stripe, the record is final, and the audit finds no difference.
 */
/** Every step the order goes through (an order without personal data keeps none), with every fault. */
const cellsOf = (order: ChargeRequest): Fault[] =>
  STEPS.filter((step) => step !== 'keep personal data' || Object.keys(personalDataOf(order)).length > 0).flatMap((step) =>
    FAULT_KINDS.map((kind) => ({ step, kind })),
  );
const FINAL_WITHOUT_CHARGE = new Set(['expired']);

let parts: LocalParts;
let sqsEmulator: SqsEmulator;
let sqs: SQSClient;
beforeAll(async () => {
  [parts, sqsEmulator] = await Promise.all([startLocalParts(), startSqsEmulator()]);
  sqs = localSqsClient(sqsEmulator.endpoint);
});
afterAll(async () => {
  sqs?.destroy();
  await Promise.all([parts?.stop(), sqsEmulator?.stop()]);
});

interface PathRun {
  namespace: string;
  tables: TableNames;
  orderIdOf: (fault: Fault) => string;
  /** Sync path: the status the client got from its one call, or undefined when it never answered. */
  answers: Map<string, number | undefined>;
  /** How often each cell's fault struck (0 would mean the cell tested nothing). */
  struck: Map<string, number>;
  /** Sync path: the ledger record's and the key's status once the call answered or crashed, before anything else ran. */
  afterTheCall: Map<string, { ledger?: string; key?: string }>;
  /** Queue path: the worker batches of each cell that timed out (a crash, as the event source mapping sees it). */
  timedOutBatches: Map<string, number>;
  audit: AuditReport;
}

/** The order of every cell: only what a charge needs, or every optional field (which must come back the same on a resume). */
const ORDERS = {
  'only the fields a charge needs': (orderId: string): ChargeRequest => ({ orderId, amount: 3100, currency: 'eur', paymentMethod: 'pm_card_visa' }),
  'every optional field': fullOrder,
};
type OrderShape = keyof typeof ORDERS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A call that has not answered by then crashed: well past a faulted Stripe call's retries (about 2 s), even on a loaded machine. */
const CRASHED_AFTER_MS = 8_000;

async function startPath(path: 'sync' | 'queue', shape: OrderShape): Promise<PathRun> {
  const order = ORDERS[shape];
  const namespace = `matrix-${path}-${randomUUID().slice(0, 6)}`;
  const deployment = { namespace, tables: localTableNames(`${namespace}-`) };
  await createTables(parts.dynamoDb, deployment.tables);
  const orderIdOf = (fault: Fault) => `${namespace}-${fault.step.replace(/ /g, '-')}-${fault.kind.replace(/ /g, '-')}`;
  const clients: Array<{ destroy(): void }> = [];
  const pollers: QueuePoller[] = [];
  const queueUrls: string[] = [];
  const answers = new Map<string, number | undefined>();
  const afterTheCall = new Map<string, { ledger?: string; key?: string }>();
  const struck = new Map<string, () => number>();
  const timedOutBatches = new Map<string, () => number>();

  await Promise.all(
    cellsOf(order('cells')).map(async (fault) => {
      const orderId = orderIdOf(fault);
      const plan = faultOnce(fault);
      struck.set(orderId, plan.struck);
      if (path === 'sync') {
        const options = faultyServiceOptions(parts, deployment, plan);
        clients.push(options.dynamoDb);
        const handler = createChargePaymentHandler(createChargeService(options, 'api'), silentLogger);
        // One call, never retried; a crashed one never answers.
        const answer = await Promise.race([handler(postEvent(order(orderId)), lambdaContext(LOCK_MS)), sleep(CRASHED_AFTER_MS).then(() => undefined)]);
        answers.set(orderId, answer?.statusCode);
        const record = await createLedgerReader(parts.dynamoDb, deployment.tables.ledgerTableName)(orderId);
        afterTheCall.set(orderId, { ledger: record?.status, key: await keyStatusOf(deployment.tables, orderId) });
        return;
      }
      const worker = await startFaultyWorker(parts, sqs, deployment, plan, `${orderId.slice(-40)}-`);
      clients.push(worker.options.dynamoDb);
      timedOutBatches.set(orderId, worker.timedOutBatches);
      pollers.push(worker.poller);
      queueUrls.push(worker.queueUrl);
      await sqs.send(new SendMessageCommand({ QueueUrl: worker.queueUrl, MessageBody: JSON.stringify(order(orderId)) }));
    }),
  );
  try {
    await runToQuiescence(parts, deployment, async () => (await messagesOn(sqs, queueUrls)) === 0);
  } finally {
    await Promise.all(pollers.map((poller) => poller.stop()));
    for (const client of clients) client.destroy();
  }
  const counts = (counters: Map<string, () => number>) => new Map([...counters].map(([orderId, count]) => [orderId, count()]));
  return {
    ...deployment,
    orderIdOf,
    answers,
    afterTheCall,
    struck: counts(struck),
    timedOutBatches: counts(timedOutBatches),
    audit: await auditDeployment(parts, deployment),
  };
}

/** The key's status in the key table (Powertools keys it on the prefix and the base64 MD5 of the JSON orderId). */
async function keyStatusOf(tables: TableNames, orderId: string): Promise<string | undefined> {
  const id = `${IDEMPOTENCY_KEY_PREFIX}#${createHash('md5').update(JSON.stringify(orderId)).digest('base64')}`;
  const { Item } = await parts.dynamoDb.send(
    new GetItemCommand({ TableName: tables.idempotencyTableName, Key: { [idempotencyTable.partitionKey]: { S: id } } }),
  );
  return Item?.status?.S;
}

/**
 * The writes a charge sends together (idempotent-use-cases.ts): the key claim with the ledger
 * create, the ledger finalize with the key completion. When one of a pair fails or crashes, the
 * other lands alone; what it left, right after the call, before the reconciler or a retry ran.
 */
const PARTNER_LANDED_ALONE: Partial<Record<Step, (kind: Fault['kind']) => { table: 'ledger' | 'key'; status: string | undefined }>> = {
  // A failed claim withdraws the create that landed with it; a crashed one leaves it pending (the reconciler's).
  'claim key': (kind) => ({ table: 'ledger', status: kind.startsWith('crashes') ? 'pending' : undefined }),
  // A failed use case releases the key (Powertools deletes it); a crashed one holds it until the lock expires.
  'ledger create': (kind) => ({ table: 'key', status: kind.startsWith('crashes') ? 'INPROGRESS' : undefined }),
  'ledger finalize': () => ({ table: 'key', status: 'COMPLETED' }),
  'key complete': () => ({ table: 'ledger', status: 'charged' }),
};

const RUNS = (['sync', 'queue'] as const).flatMap((path) => (Object.keys(ORDERS) as OrderShape[]).map((shape) => [path, shape] as const));

describe.each(RUNS)('the %s path with %s, a fault at every step, no retry by the client and no webhook', (path, shape) => {
  let run: PathRun;
  beforeAll(async () => {
    run = await startPath(path, shape);
  }, 120_000);

  it('ends with the audit finding no difference between Stripe and the ledger', () => {
    expect(run.audit.discrepancies).toEqual([]);
    expect(run.audit.ledgerRecords).toBeGreaterThan(0);
  });

  const overlapped = cellsOf(ORDERS[shape]('cells')).filter((fault) => fault.step in PARTNER_LANDED_ALONE);
  if (path === 'sync')
    it.each(overlapped)('$step, $kind: the write sent with it lands alone', (fault) => {
      const { table, status } = (PARTNER_LANDED_ALONE[fault.step] as (kind: Fault['kind']) => { table: 'ledger' | 'key'; status?: string })(fault.kind);
      expect(run.afterTheCall.get(run.orderIdOf(fault))?.[table]).toBe(status);
    });

  it.each(cellsOf(ORDERS[shape]('cells')))('$step, $kind: at most one PaymentIntent, a final record that agrees with Stripe', async (fault) => {
    const orderId = run.orderIdOf(fault);
    const intents = parts.stripeEmulator.paymentIntentsForOrder(orderId, run.namespace);
    const record = (await createLedgerReader(parts.dynamoDb, run.tables.ledgerTableName)(orderId)) as LedgerRecord | undefined;
    expect(intents.length).toBeLessThanOrEqual(1);
    expect(run.struck.get(orderId)).toBeGreaterThan(0);
    if (path === 'queue' && fault.kind.startsWith('crashes')) expect(run.timedOutBatches.get(orderId)).toBeGreaterThan(0);
    if (path === 'sync') {
      // The fault did strike: a crash never answers; a failure is an error, except after the
      // charge when only completing the key failed (the client gets its charge).
      const answer = run.answers.get(orderId);
      if (fault.kind.startsWith('crashes')) expect(answer).toBeUndefined();
      else if (fault.step === 'key complete') expect(answer).toBe(201);
      else expect([502, 503]).toContain(answer);
    }
    if (record === undefined) {
      // The call failed before the order was accepted (503 to the client): nothing anywhere.
      expect(path).toBe('sync');
      expect(intents).toEqual([]);
      return;
    }
    expect(record.status).not.toBe('pending');
    if (intents.length === 1) {
      expect(record).toMatchObject({ status: 'charged', paymentId: intents[0].id, amount: intents[0].amount, currency: intents[0].currency });
    } else {
      expect(FINAL_WITHOUT_CHARGE.has(record.status)).toBe(true);
      expect(path).toBe('sync'); // a queued order is retried until it is charged
    }
  });
});
