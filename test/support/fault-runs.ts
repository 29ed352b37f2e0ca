import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type ChargeServiceOptions, createChargeService } from '../../lambdas/adapters/charge-service';
import { createDeadLetter } from '../../lambdas/adapters/dead-letter-queue';
import { createLedgerReader, createLedgerWindowReader, createPendingLedger, createRefundsLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createRetryLater, createSendAgainLater } from '../../lambdas/adapters/queue-retries';
import { createStripeAuditSource, createStripePayments, createStripeRefunds } from '../../lambdas/adapters/stripe-payments';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { type AuditReport, createAudit, windowStart } from '../../lambdas/core/audit';
import { createReconcilePending } from '../../lambdas/core/reconcile-pending';
import { createReconcileRefunds } from '../../lambdas/core/reconcile-refunds';
import { createChargeWorkerHandler } from '../../lambdas/handlers/charge-worker';
import { printBatchFailure, type QueuePoller, startQueuePoller, WorkerTimeoutError } from '../../local/queue-poller';
import { createQueues, type LocalQueues } from '../../local/queues';
import type { TableNames } from '../../local/tables';
import { type FaultPlan, type FaultyPath, faultyDynamoDb, faultyStripe } from './faults';
import { type LocalParts, silentLogger } from './local-parts';

/**
 * Deployments that meet faults, over real local parts, and the loop that runs the queue and the
 * reconciler until nothing moves: shared by the fault matrix (a test) and the soak (the benchmark).
 * Everything runs fast: a crashed call's lock, the retry delay and the reconciler's grace are short.
 */
export const LOCK_MS = 1_000;
export const GRACE_SECONDS = 1;
const SHORT_RETRIES = { baseDelaySeconds: 1, maxDelaySeconds: 1 };
const SHORT_RATE_LIMIT_WAITS = { ...SHORT_RETRIES, rideOutSeconds: 60 };

/** One deployment's namespace and tables. */
export interface Deployment {
  namespace: string;
  tables: TableNames;
}

/** What one Lambda of the deployment is wired with: real clients that meet the plan's faults. */
export function faultyServiceOptions(parts: LocalParts, deployment: Deployment, plan: FaultPlan, path: FaultyPath = 'charge'): ChargeServiceOptions {
  const stripe = faultyStripe(parts.stripeEmulator.apiKey, parts.stripeEmulator.url, plan, path);
  return {
    dynamoDb: faultyDynamoDb(parts.dynamoDbLocal.endpoint, deployment.tables, plan, path),
    ...deployment.tables,
    stripe: async () => stripe,
    namespace: deployment.namespace,
  };
}

/**
 * A queue and its dead-letter queue, consumed by a worker that meets the plan's faults (as the event
 * source mapping would, with a short timeout). `timedOutBatches()` counts the batches that timed out.
 */
export async function startFaultyWorker(
  parts: LocalParts,
  sqs: SQSClient,
  deployment: Deployment,
  plan: FaultPlan,
  prefix: string,
): Promise<LocalQueues & { poller: QueuePoller; options: ChargeServiceOptions; timedOutBatches: () => number }> {
  const queues = await createQueues(sqs, prefix, { visibilityTimeoutSeconds: 1 });
  const options = faultyServiceOptions(parts, deployment, plan);
  const worker = createChargeWorkerHandler(
    {
      charge: createChargeService(options, 'queue'),
      deadLetter: createDeadLetter(sqs, queues.deadLetterQueueUrl),
      retryLater: createRetryLater(sqs, queues.queueUrl, SHORT_RETRIES),
      sendAgainLater: createSendAgainLater(sqs, queues.queueUrl, SHORT_RATE_LIMIT_WAITS),
    },
    silentLogger,
  );
  let timedOut = 0;
  const poller = startQueuePoller(sqs, queues.queueUrl, worker, {
    workerTimeoutSeconds: LOCK_MS / 1000,
    // A crash never returns, so its batch times out: expected, and counted; any other failure is not.
    onBatchFailure: (error) => {
      if (error instanceof WorkerTimeoutError) timedOut += 1;
      else printBatchFailure(error);
    },
  });
  return { ...queues, options, poller, timedOutBatches: () => timedOut };
}

/** Messages on these queues, visible or in flight. */
export async function messagesOn(sqs: SQSClient, queueUrls: string[]): Promise<number> {
  const counts = await Promise.all(
    queueUrls.map(async (QueueUrl) => {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * Runs the reconciler until no record is pending and the queues are empty, or throws at the deadline.
 * `reconcilerAheadMs` runs it as it would run that much later: an account as busy as a soak's is
 * too busy to list, so its API orders without a PaymentIntent wait until search is trusted.
 */
export async function runToQuiescence(
  parts: LocalParts,
  deployment: Deployment,
  queuesEmpty: () => Promise<boolean>,
  deadlineMs = 60_000,
  reconcilerAheadMs = 0,
): Promise<void> {
  const ledger = createPendingLedger(parts.dynamoDb, deployment.tables.ledgerTableName);
  const refunds = createRefundsLedger(parts.dynamoDb, deployment.tables.ledgerTableName);
  // The emulator has no rate limit: a budget as large as the machine allows, so the loop turns quickly.
  const budget = stripeBudgetOf(1_000).reconciler;
  const now = () => new Date(Date.now() + reconcilerAheadMs);
  const reconcile = createReconcilePending({ ledger, payments: createStripePayments(async () => parts.stripe), graceSeconds: GRACE_SECONDS, budget, now });
  const reconcileRefunds = createReconcileRefunds({
    ledger: refunds,
    payments: createStripeRefunds(async () => parts.stripe),
    graceSeconds: GRACE_SECONDS,
    budget,
  });
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    await reconcile();
    await reconcileRefunds();
    // Every pending record and every order with an open refund, however recent or put off: the sparse indexes hold exactly those.
    const pending: string[] = [];
    for await (const record of ledger.pendingAttemptedBefore('9999')) pending.push(record.orderId);
    for await (const orderId of refunds.ordersWithRefundsUnsettledBefore('9999')) pending.push(orderId);
    if (pending.length === 0 && (await queuesEmpty())) return;
    if (Date.now() > deadline) throw new Error(`no quiescence; still pending: ${pending.slice(0, 10).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The audit of the deployment over the last hour. */
export function auditDeployment(parts: LocalParts, deployment: Deployment): Promise<AuditReport> {
  return createAudit({
    ...createStripeAuditSource(async () => parts.stripe, deployment.namespace, Number.POSITIVE_INFINITY),
    recordsCreatedBetween: createLedgerWindowReader(parts.dynamoDb, deployment.tables.ledgerTableName),
    readRecord: createLedgerReader(parts.dynamoDb, deployment.tables.ledgerTableName),
    // The loop above runs the reconciler itself, until nothing is pending.
    inFlightSeconds: GRACE_SECONDS,
  })(windowStart('1h'));
}
