import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import { createDeadLetter } from '../../lambdas/adapters/dead-letter-queue';
import { createLedgerReader, createLedgerWindowReader, createPendingLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createRetryLater } from '../../lambdas/adapters/queue-retries';
import { createStripeAuditSource, createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { createAudit, windowStart, type AuditReport } from '../../lambdas/core/audit';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import { createReconcilePending } from '../../lambdas/core/reconcile-pending';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { createChargeWorkerHandler } from '../../lambdas/handlers/charge-worker';
import { lambdaContext } from '../../local/lambda-context';
import { startQueuePoller, type QueuePoller } from '../../local/queue-poller';
import { createQueues, localSqsClient, startSqsEmulator, type SqsEmulator } from '../../local/queues';
import { createTables, localTableNames, type TableNames } from '../../local/tables';
import { FAULT_KINDS, faultyDynamoDb, faultyStripe, STEPS, type Fault } from '../support/faults';
import { postEvent, silentLogger, startLocalParts, type LocalParts } from '../support/local-parts';

/**
 * The proof: a crash or a failure before and after each step of a charge, on the sync path and on
 * the queue path. The client never retries and no webhook is sent; the queue and the reconciler
 * run until nothing moves. Then, for every cell: at most one PaymentIntent, the ledger agrees
 * with Stripe, the record is final, and the audit finds no difference.
 */
const CELLS: Fault[] = STEPS.flatMap((step) => FAULT_KINDS.map((kind) => ({ step, kind })));
/** Short enough to reach quiescence in seconds: a crashed call's lock, the retry delay, the reconciler's grace. */
const LOCK_MS = 1_000;
const GRACE_SECONDS = 1;
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
  audit: AuditReport;
}

const order = (orderId: string) => ({ orderId, amount: 3100, currency: 'eur', paymentMethod: 'pm_card_visa' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The clients one cell's Lambda uses: real ones, each with the cell's fault on its step. */
function faultyService(run: { namespace: string; tables: TableNames }, fault: Fault) {
  const dynamoDb = faultyDynamoDb(parts.dynamoDbLocal.endpoint, run.tables, fault);
  const stripe = faultyStripe(parts.stripeEmulator.apiKey, parts.stripeEmulator.url, fault);
  return { dynamoDb, options: { dynamoDb, ...run.tables, stripe: async () => stripe, namespace: run.namespace } };
}

/** Runs the reconciler until every cell's order is settled (and, on the queue path, every queue is empty). */
async function quiesce(run: { namespace: string; tables: TableNames }, orderIds: string[], queuesEmpty: () => Promise<boolean>): Promise<void> {
  const reconcile = createReconcilePending({
    ledger: createPendingLedger(parts.dynamoDb, run.tables.ledgerTableName),
    payments: createStripePayments(async () => parts.stripe),
    graceSeconds: GRACE_SECONDS,
  });
  const read = createLedgerReader(parts.dynamoDb, run.tables.ledgerTableName);
  const deadline = Date.now() + 60_000;
  for (;;) {
    await reconcile();
    const records = await Promise.all(orderIds.map(read));
    if (records.every((record) => record === undefined || record.status !== 'pending') && (await queuesEmpty())) return;
    if (Date.now() > deadline) throw new Error(`no quiescence: ${records.filter((r) => r?.status === 'pending').map((r) => r?.orderId).join(', ')}`);
    await sleep(500);
  }
}

async function startPath(path: 'sync' | 'queue'): Promise<PathRun> {
  const namespace = `matrix-${path}-${randomUUID().slice(0, 6)}`;
  const tables = localTableNames(`${namespace}-`);
  await createTables(parts.dynamoDb, tables);
  const run = { namespace, tables };
  const orderIdOf = (fault: Fault) => `${namespace}-${fault.step.replace(/ /g, '-')}-${fault.kind.replace(/ /g, '-')}`;
  const clients: Array<{ destroy(): void }> = [];
  const pollers: QueuePoller[] = [];
  const queueUrls: string[] = [];
  const answers = new Map<string, number | undefined>();

  await Promise.all(
    CELLS.map(async (fault) => {
      const { dynamoDb, options } = faultyService(run, fault);
      clients.push(dynamoDb);
      const orderId = orderIdOf(fault);
      if (path === 'sync') {
        const handler = createChargePaymentHandler(createChargeService(options, 'api'), silentLogger);
        // One call, never retried; a crashed one never answers.
        const answer = await Promise.race([handler(postEvent(order(orderId)), lambdaContext(LOCK_MS)), sleep(3_000).then(() => undefined)]);
        answers.set(orderId, answer?.statusCode);
        return;
      }
      const queues = await createQueues(sqs, `${orderId.slice(-40)}-`, { visibilityTimeoutSeconds: 1 });
      queueUrls.push(queues.queueUrl);
      const worker = createChargeWorkerHandler(
        {
          charge: createChargeService(options, 'queue'),
          deadLetter: createDeadLetter(sqs, queues.deadLetterQueueUrl),
          retryLater: createRetryLater(sqs, queues.queueUrl, { baseDelaySeconds: 1, maxDelaySeconds: 1 }),
        },
        silentLogger,
      );
      // A crashed batch is given up after the (shortened) function timeout, as Lambda would.
      pollers.push(startQueuePoller(sqs, queues.queueUrl, worker, LOCK_MS / 1000));
      await sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: JSON.stringify(order(orderId)) }));
    }),
  );

  const queuesEmpty = async () => {
    const counts = await Promise.all(
      queueUrls.map(async (QueueUrl) => {
        const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
        return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
      }),
    );
    return counts.every((count) => count === 0);
  };
  try {
    await quiesce(run, CELLS.map(orderIdOf), queuesEmpty);
  } finally {
    await Promise.all(pollers.map((poller) => poller.stop()));
    clients.forEach((client) => client.destroy());
  }
  const audit = await createAudit({
    ...createStripeAuditSource(async () => parts.stripe, namespace),
    recordsCreatedBetween: createLedgerWindowReader(parts.dynamoDb, tables.ledgerTableName),
    readRecord: createLedgerReader(parts.dynamoDb, tables.ledgerTableName),
    graceSeconds: GRACE_SECONDS,
  })(windowStart('1h'));
  return { namespace, tables, orderIdOf, answers, audit };
}

describe.each(['sync', 'queue'] as const)('the %s path, a fault at every step, no retry by the client and no webhook', (path) => {
  let run: PathRun;
  beforeAll(async () => {
    run = await startPath(path);
  }, 120_000);

  it('ends with the audit finding no difference between Stripe and the ledger', () => {
    expect(run.audit.discrepancies).toEqual([]);
    expect(run.audit.ledgerRecords).toBeGreaterThan(0);
  });

  it.each(CELLS)('$step, $kind: at most one PaymentIntent, a final record that agrees with Stripe', async (fault) => {
    const orderId = run.orderIdOf(fault);
    const intents = parts.stripeEmulator.paymentIntentsForOrder(orderId, run.namespace);
    const record = (await createLedgerReader(parts.dynamoDb, run.tables.ledgerTableName)(orderId)) as LedgerRecord | undefined;
    expect(intents.length).toBeLessThanOrEqual(1);
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
