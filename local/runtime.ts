import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { createChargeService, createRefundService } from '../lambdas/adapters/charge-service';
import { createDeadLetter } from '../lambdas/adapters/dead-letter-queue';
import { createLedgerReader, createLedgerWindowReader, createPendingLedger, createRefundsLedger } from '../lambdas/adapters/dynamodb-ledger';
import { createRetryLater } from '../lambdas/adapters/queue-retries';
import { createStripeAuditSource, createStripeClient, createStripePayments, createStripeRefunds } from '../lambdas/adapters/stripe-payments';
import { createStripeEventHandling, createStripeEventVerifier } from '../lambdas/adapters/stripe-webhooks';
import { admissionSettingsOf, stageMethodThrottles } from '../lambdas/contract/admission';
import { ENV } from '../lambdas/contract/environment';
import { assertNamespace, LOCAL_NAMESPACE } from '../lambdas/contract/payment-metadata';
import type { RetrySchedule } from '../lambdas/contract/queues';
import {
  AUDIT_TIMEOUT_SECONDS,
  CHARGE_FUNCTION_TIMEOUT_SECONDS,
  EVENTS_CATCH_UP_TIMEOUT_SECONDS,
  LOCAL_EVENTS_CATCH_UP_INTERVAL_SECONDS,
  LOCAL_RECONCILE_INTERVAL_SECONDS,
  PENDING_GRACE_SECONDS,
  RECONCILER_TIMEOUT_SECONDS,
} from '../lambdas/contract/settings';
import { stripeBudgetOf, stripeRequestsPerSecondFrom } from '../lambdas/contract/stripe-budget';
import { createAudit } from '../lambdas/core/audit';
import { createReconcilePending } from '../lambdas/core/reconcile-pending';
import { createReconcileRefunds } from '../lambdas/core/reconcile-refunds';
import { createAuditHandler } from '../lambdas/handlers/audit-ledger';
import { createCatchUp, createCatchUpHandler } from '../lambdas/handlers/catch-up-events';
import { createChargePaymentHandler } from '../lambdas/handlers/charge-payment';
import { createChargeWorkerHandler } from '../lambdas/handlers/charge-worker';
import { errorSummary } from '../lambdas/handlers/error-summary';
import { createGetPaymentHandler } from '../lambdas/handlers/get-payment';
import { ledgerChangeMetrics, serviceMetrics } from '../lambdas/handlers/outcome-metrics';
import { createReconcileHandler } from '../lambdas/handlers/reconcile-pending';
import { createRefundPaymentHandler } from '../lambdas/handlers/refund-payment';
import { createStripeWebhookHandler } from '../lambdas/handlers/stripe-webhook';
import { type AnsweredRequest, startLocalApi } from './api-server';
import { localDynamoDbClient, startDynamoDbLocal } from './dynamodb-local';
import { lambdaContext } from './lambda-context';
import { startPeriodic } from './periodic';
import { startQueuePoller } from './queue-poller';
import { createQueues, integrationSqsClient, type LocalQueues, localSqsClient, startSqsEmulator } from './queues';
import { sqsQueryEndpoint } from './sqs-query-protocol';
import { type StripeEmulator, startStripeEmulator } from './stripe-emulator/stripe-emulator';
import { createTables, localTableNames, type TableNames } from './tables';

/** The variables of the README's local runtime settings, and what tests may change. */
export interface LocalRuntimeSettings {
  port: number;
  dynamoDbEndpoint?: string;
  sqsEndpoint?: string;
  stripeSecretKey?: string;
  stripeApiBase?: string;
  /** The `whsec_…` webhook signing secret; generated when unset. */
  stripeWebhookSecret?: string;
  /** Prefix for table and queue names, so several runtimes can share one DynamoDB Local or SQS. */
  namePrefix?: string;
  /** Tests shorten it to see SQS retries in seconds; defaults to the stack's value. */
  queueVisibilityTimeoutSeconds?: number;
  /** Tests shorten it to see many retries in seconds; defaults to the contract's schedule. */
  retrySchedule?: RetrySchedule;
  /** How often the reconciler runs (RECONCILE_INTERVAL_SECONDS, default 60). */
  reconcileIntervalSeconds?: number;
  /** How long a record may stay pending before the reconciler settles it (PENDING_GRACE_SECONDS, default 600). */
  pendingGraceSeconds?: number;
  /** How often the Events API catch-up runs (EVENTS_CATCH_UP_INTERVAL_SECONDS, default 60). */
  eventsCatchUpIntervalSeconds?: number;
  /** The deployment namespace at Stripe (PAYMENTS_NAMESPACE); when unset `local` with the embedded emulator, else `local-<user>-<host>`. */
  namespace?: string;
  /** The Stripe budget (STRIPE_REQUESTS_PER_SECOND, default 25): the stage throttles, the worker's batch and the reconciler's pace, as deployed. */
  stripeRequestsPerSecond?: number;
  /** Called once each API request is answered (npm start prints a line). */
  onRequest?: (request: AnsweredRequest) => void;
}

export interface LocalRuntime {
  url: string;
  dynamoDbEndpoint: string;
  sqsEndpoint: string;
  tables: TableNames;
  queues: LocalQueues;
  /** Present when the embedded Stripe emulator is used. */
  stripeEmulator?: StripeEmulator;
  /** What POST /webhooks/stripe verifies signatures with (the emulator signs with it). */
  stripeWebhookSecret: string;
  namespace: string;
  reconcileIntervalSeconds: number;
  pendingGraceSeconds: number;
  eventsCatchUpIntervalSeconds: number;
  stop(): Promise<void>;
}

export function settingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): LocalRuntimeSettings {
  return {
    port: env.PORT === undefined ? 3000 : Number(env.PORT),
    dynamoDbEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    sqsEndpoint: env.SQS_ENDPOINT || undefined,
    stripeSecretKey: env.STRIPE_SECRET_KEY || undefined,
    stripeApiBase: env.STRIPE_API_BASE || undefined,
    stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET || undefined,
    namespace: env[ENV.namespace] || undefined,
    reconcileIntervalSeconds: numberOrUndefined(env[ENV.reconcileIntervalSeconds]),
    pendingGraceSeconds: numberOrUndefined(env[ENV.pendingGraceSeconds]),
    eventsCatchUpIntervalSeconds: numberOrUndefined(env[ENV.eventsCatchUpIntervalSeconds]),
    stripeRequestsPerSecond: stripeRequestsPerSecondFrom(env[ENV.stripeRequestsPerSecond]),
  };
}

function numberOrUndefined(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new Error(`expected a number of seconds, got "${value}"`);
  return number;
}

/**
 * Starts everything `npm start` runs: DynamoDB Local and the SQS emulator (unless endpoints are
 * given) with the stack's tables and queues, the Stripe emulator (unless a key is given), the local
 * API around the same handlers the Lambdas run, and a poller that feeds the queue to the worker
 * handler like the Lambda event source mapping. Whatever started is stopped again if a later step
 * fails, and by `stop()`.
 */
export async function startLocalRuntime(settings: LocalRuntimeSettings): Promise<LocalRuntime> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopPart of stops.splice(0).reverse()) await stopPart().catch(() => undefined);
  };
  try {
    // Started side by side; allSettled so that every part that did start is registered for stopping.
    const [dynamoDbStarted, sqsStarted, stripeStarted] = await Promise.allSettled([
      settings.dynamoDbEndpoint ??
        startDynamoDbLocal().then(({ endpoint, stop: stopDb }) => {
          stops.push(stopDb);
          return endpoint;
        }),
      settings.sqsEndpoint ??
        startSqsEmulator().then(({ endpoint, stop: stopSqs }) => {
          stops.push(stopSqs);
          return endpoint;
        }),
      settings.stripeSecretKey === undefined
        ? startStripeEmulator().then((emulator) => {
            stops.push(emulator.stop);
            return emulator;
          })
        : undefined,
    ]);
    const dynamoDbEndpoint = startedValue(dynamoDbStarted);
    const sqsEndpoint = startedValue(sqsStarted);
    const stripeEmulator = startedValue(stripeStarted);

    const dynamoDb = localDynamoDbClient(dynamoDbEndpoint);
    const sqs = localSqsClient(sqsEndpoint);
    const integrationSqs = integrationSqsClient(sqsEndpoint);
    stops.push(async () => {
      dynamoDb.destroy();
      sqs.destroy();
      integrationSqs.destroy();
    });
    const tables = localTableNames(settings.namePrefix);
    await createTables(dynamoDb, tables);
    const queues = await createQueues(sqs, settings.namePrefix, { visibilityTimeoutSeconds: settings.queueVisibilityTimeoutSeconds });

    const stripe = stripeEmulator
      ? createStripeClient(stripeEmulator.apiKey, stripeEmulator.url)
      : createStripeClient(settings.stripeSecretKey as string, settings.stripeApiBase);
    // The embedded emulator is this runtime's alone; a real Stripe account may be shared with colleagues.
    const namespace = assertNamespace(settings.namespace ?? (stripeEmulator ? LOCAL_NAMESPACE : machineNamespace()));
    const service = { dynamoDb, ...tables, stripe: async () => stripe, namespace };
    // As each Lambda does: one metrics instance for the handler and its charge service (Stripe latency).
    const metrics = { api: serviceMetrics(namespace), queue: serviceMetrics(namespace) };
    const charge = { api: createChargeService(service, 'api', metrics.api), queue: createChargeService(service, 'queue', metrics.queue) };
    const stripeWebhookSecret = settings.stripeWebhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;

    const worker = createChargeWorkerHandler(
      {
        charge: charge.queue,
        deadLetter: createDeadLetter(sqs, queues.deadLetterQueueUrl),
        retryLater: createRetryLater(sqs, queues.queueUrl, settings.retrySchedule),
      },
      undefined,
      metrics.queue,
    );
    const budget = stripeBudgetOf(settings.stripeRequestsPerSecond);
    const poller = startQueuePoller(sqs, queues.queueUrl, worker, { batchSize: budget.worker.batchSize });
    stops.push(poller.stop);

    // The reconciler, as the schedule runs it in AWS: the same handler, on a timer.
    const pendingGraceSeconds = settings.pendingGraceSeconds ?? PENDING_GRACE_SECONDS;
    const reconcileIntervalSeconds = settings.reconcileIntervalSeconds ?? LOCAL_RECONCILE_INTERVAL_SECONDS;
    const reconcileMetrics = serviceMetrics(namespace);
    const reconcileHandler = createReconcileHandler(
      {
        pending: createReconcilePending({
          ledger: createPendingLedger(dynamoDb, tables.ledgerTableName),
          payments: createStripePayments(async () => stripe),
          graceSeconds: pendingGraceSeconds,
          budget: budget.reconciler,
        }),
        refunds: createReconcileRefunds({
          ledger: createRefundsLedger(dynamoDb, tables.ledgerTableName),
          payments: createStripeRefunds(async () => stripe),
          graceSeconds: pendingGraceSeconds,
          budget: budget.reconciler,
          observer: ledgerChangeMetrics(reconcileMetrics),
        }),
      },
      undefined,
      reconcileMetrics,
    );
    const auditHandler = createAuditHandler(
      createAudit({
        ...createStripeAuditSource(async () => stripe, namespace),
        recordsCreatedBetween: createLedgerWindowReader(dynamoDb, tables.ledgerTableName),
        readRecord: createLedgerReader(dynamoDb, tables.ledgerTableName),
        inFlightSeconds: pendingGraceSeconds + reconcileIntervalSeconds,
      }),
      serviceMetrics(namespace),
    );
    const reconcileOnce = () => reconcileHandler({}, lambdaContext(RECONCILER_TIMEOUT_SECONDS * 1000, 'reconcilePending'));
    const reconciler = startPeriodic(reconcileIntervalSeconds * 1000, () =>
      reconcileOnce().catch((error: unknown) => console.error('local reconciler: run failed', errorSummary(error))),
    );
    stops.push(reconciler.stop);
    // The Events API catch-up, as its schedule runs it in AWS: the webhook's own handling of each event.
    const eventsCatchUpIntervalSeconds = settings.eventsCatchUpIntervalSeconds ?? LOCAL_EVENTS_CATCH_UP_INTERVAL_SECONDS;
    const catchUpMetrics = serviceMetrics(namespace);
    const catchUpHandler = createCatchUpHandler(
      createCatchUp(createStripeEventHandling(service, ledgerChangeMetrics(catchUpMetrics)), service),
      undefined,
      catchUpMetrics,
    );
    const catchUpOnce = (since?: string) => catchUpHandler({ since }, lambdaContext(EVENTS_CATCH_UP_TIMEOUT_SECONDS * 1000, 'catchUpEvents'));
    const catchUp = startPeriodic(eventsCatchUpIntervalSeconds * 1000, () =>
      catchUpOnce().catch((error: unknown) => console.error('local events catch-up: run failed', errorSummary(error))),
    );
    stops.push(catchUp.stop);
    const webhookMetrics = serviceMetrics(namespace);
    const api = await startLocalApi({
      port: settings.port,
      handlers: {
        chargePayment: createChargePaymentHandler(charge.api, undefined, metrics.api),
        refundPayment: createRefundPaymentHandler(createRefundService(service), undefined, serviceMetrics(namespace)),
        getPayment: createGetPaymentHandler(createLedgerReader(dynamoDb, tables.ledgerTableName)),
        stripeWebhook: createStripeWebhookHandler(
          createStripeEventVerifier(async () => stripeWebhookSecret),
          createStripeEventHandling(service, ledgerChangeMetrics(webhookMetrics)),
          undefined,
          webhookMetrics,
        ),
      },
      // What `npm run reconcile -- --local` asks for: one run now, answered with its summary.
      operations: {
        reconcile: reconcileOnce,
        catchup: (query) => catchUpOnce(query.get('since') ?? undefined),
        audit: (query) => auditHandler({ since: query.get('since') ?? undefined }, lambdaContext(AUDIT_TIMEOUT_SECONDS * 1000, 'auditLedger')),
      },
      queueEndpoint: sqsQueryEndpoint(integrationSqs, queues.queueUrl),
      timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
      onRequest: settings.onRequest,
      stageThrottles: stageMethodThrottles(budget, admissionSettingsOf(budget)),
    }).catch((error: unknown) => {
      throw withPortAdvice(error, settings.port);
    });
    stops.push(api.stop);
    stripeEmulator?.webhooks.addEndpoint({ url: `${api.url}/webhooks/stripe`, secret: stripeWebhookSecret });
    return {
      url: api.url,
      dynamoDbEndpoint,
      sqsEndpoint,
      tables,
      queues,
      stripeEmulator,
      stripeWebhookSecret,
      namespace,
      reconcileIntervalSeconds,
      pendingGraceSeconds,
      eventsCatchUpIntervalSeconds,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The API's port is the one a developer picks (PORT): when it is taken, say what likely holds it and how to pick another. */
function withPortAdvice(error: unknown, port: number): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') return error;
  return new Error(
    `port ${port} is already in use (another npm start?): stop what holds it (lsof -i :${port} shows it) or set PORT to another port, e.g. PORT=${port + 1} npm start`,
    { cause: error },
  );
}

/** `local-<user>-<host>`: a default that two developers on one Stripe test account do not share. */
function machineNamespace(): string {
  return `local-${userInfo().username}-${hostname()}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 160);
}

function startedValue<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}
