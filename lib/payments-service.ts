import { Annotations, Aws, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import {
  type AdmissionOptions,
  type AdmissionSettings,
  admissionSettingsOf,
  type ReservedFunction,
  requiredAccountConcurrency,
  reservedConcurrencyOf,
} from '../lambdas/contract/admission';
import { ENV } from '../lambdas/contract/environment';
import { assertNamespace, NAMESPACE_PATTERN } from '../lambdas/contract/payment-metadata';
import { chargeQueue } from '../lambdas/contract/queues';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../lambdas/contract/settings';
import { DEFAULT_STRIPE_REQUESTS_PER_SECOND, type StripeBudget, stripeBudgetOf } from '../lambdas/contract/stripe-budget';
import { PERSONAL_DATA_KEY_PREFIX } from '../lambdas/contract/tables';
import { entryPath } from './constructs/bundling';
import { ChargeQueue } from './constructs/charge-queue';
import { EventsCatchUp } from './constructs/events-catch-up';
import { LedgerAudit } from './constructs/ledger-audit';
import { Monitoring } from './constructs/monitoring';
import { PaymentTables } from './constructs/payment-tables';
import { PaymentsApi } from './constructs/payments-api';
import { PaymentsFunction, type TableAccess } from './constructs/payments-function';
import { Reconciler } from './constructs/reconciler';
import { OUTPUT_PREFIX_CONTEXT, stackOutput } from './constructs/stack-output';
import { StripeSecret } from './constructs/stripe-secret';

/**
 * The id that keeps every logical ID what it was when the service was the stack itself: CDK leaves
 * a construct named `Default` out of the logical IDs of everything under it.
 */
export const IN_PLACE_OF_STACK = 'Default';

export interface PaymentsServiceProps extends AdmissionOptions {
  /**
   * Destroy the tables, queues and secrets with the stack (a sandbox). Default false: the ledger is
   * the only record of which orders were charged, so it is kept unless you say otherwise.
   */
  sandbox?: boolean;
  /**
   * This deployment's namespace at Stripe: it scopes the idempotency keys and marks the metadata,
   * so deployments sharing one Stripe account never take each other's payments as their own. Default
   * `<stack name>.<construct path in the stack>-<account>-<region>` (just `<stack name>-…` for the
   * template's own stack), which no other deployment can have: a stack name has no `.`.
   */
  namespace?: string;
  /** Use this existing Secrets Manager secret for the Stripe key instead of creating one. */
  stripeSecretName?: string;
  /** Use this existing secret for the webhook signing secret (`whsec_…`) instead of creating one. */
  stripeWebhookSecretName?: string;
  /** The customer-managed KMS key the existing secrets are encrypted with, if not the AWS-managed one. */
  secretsKmsKeyArn?: string;
  /** Where the alarms send their notifications (subscribed to the alarm topic). */
  alarmEmail?: string;
  /** The functions' Powertools log level. Default INFO. */
  logLevel?: string;
  /** Deploy only the first N ledger indexes (upgrading a ledger deployed without them: one per update). */
  ledgerIndexes?: number;
  /** Keep the ledger's retired `CreatedByDay` index for the first of the two deploys that replace it (CHANGELOG, Unreleased). */
  keepCreatedByDay?: boolean;
  /** API Gateway execution logs: `create` the account's CloudWatch role, use the `existing` one, or `off` (default). */
  executionLogs?: 'create' | 'existing' | 'off';
  /**
   * Put before every stack output name (`ApiUrl` becomes `<prefix>ApiUrl`), so the host stack's own
   * outputs never clash with them. The operator commands then need `OUTPUT_PREFIX=<prefix>`, and the
   * alarms that name a command say so. Letters and digits (CloudFormation's rule for output names); default none.
   */
  outputPrefix?: string;
  /**
   * The Stripe requests per second this service may send, all callers together (stripe-budget.ts
   * shares it out). Default 25, a Stripe sandbox's limit; live accounts start at 100.
   */
  stripeRequestsPerSecond?: number;
  /**
   * Reserve each function's concurrency, sized from the budget and the admission settings
   * (admission.ts), so that no function can starve another. Default false: reserving fails to
   * deploy on an account whose concurrency limit is below the reservations plus 100 (new accounts may have 10).
   */
  reservedConcurrency?: boolean;
  /** An AWS WAF web ACL in front of the API, blocking one IP past `wafRequestsPerIpPerMinute`. Default false (a web ACL costs money per month). */
  waf?: boolean;
}

/**
 * The whole payments service, for any stack: tables, queue, secrets, functions, API, the scheduled
 * reconciler, audit and events catch-up, and its monitoring. `new PaymentsService(scope, 'Payments')`
 * with no further props deploys a working service (Stripe test key put into its secret afterwards).
 */
export class PaymentsService extends Construct {
  readonly tables: PaymentTables;
  readonly queue: ChargeQueue;
  readonly chargePayment: PaymentsFunction;
  readonly chargeWorker: PaymentsFunction;
  readonly refundPayment: PaymentsFunction;
  readonly getPayment: PaymentsFunction;
  readonly stripeWebhook: PaymentsFunction;
  readonly api: PaymentsApi;
  readonly reconciler: Reconciler;
  readonly audit: LedgerAudit;
  readonly eventsCatchUp: EventsCatchUp;
  readonly monitoring: Monitoring;
  /** Every Stripe caller's share of `stripeRequestsPerSecond`. */
  readonly budget: StripeBudget;
  /** What the API admits per key, per route and per IP, and the X-Ray sampling rate. */
  readonly admission: AdmissionSettings;

  constructor(scope: Construct, id: string, props: PaymentsServiceProps = {}) {
    super(scope, id);
    if (!/^[A-Za-z0-9]*$/.test(props.outputPrefix ?? ''))
      throw new Error(`PaymentsService outputPrefix "${props.outputPrefix}" must be letters and digits only, as CloudFormation output names are`);
    // Read by every stack output below this construct (stack-output.ts and the alarms' commands).
    this.node.setContext(OUTPUT_PREFIX_CONTEXT, props.outputPrefix ?? '');
    const stack = Stack.of(this);
    const removalPolicy = props.sandbox ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logLevel = props.logLevel ?? 'INFO';
    const serviceName = serviceNameOf(this, stack);
    this.budget = stripeBudgetOf(props.stripeRequestsPerSecond ?? DEFAULT_STRIPE_REQUESTS_PER_SECOND);
    this.admission = admissionSettingsOf(this.budget, props);
    if (props.wafRequestsPerIpPerMinute !== undefined && !props.waf) throw new Error('wafRequestsPerIpPerMinute sizes the WAF rule: it needs waf=true');

    this.tables = new PaymentTables(this, 'Tables', { removalPolicy, ledgerIndexes: props.ledgerIndexes, keepCreatedByDay: props.keepCreatedByDay });
    this.queue = new ChargeQueue(this, 'ChargeQueue', { removalPolicy, alarmEmail: props.alarmEmail });
    const { secret } = new StripeSecret(this, 'StripeSecret', {
      holds: 'Stripe secret API key (sk_test_... or sk_live_...)',
      existingSecretName: props.stripeSecretName,
      removalPolicy,
    });
    const { secret: webhookSecret } = new StripeSecret(this, 'StripeWebhookSecret', {
      holds: 'Stripe webhook signing secret (whsec_...)',
      existingSecretName: props.stripeWebhookSecretName,
      removalPolicy,
    });

    // What charging needs, for the API function and the queue worker alike.
    // Powertools idempotency: claim (Put), read (Get), complete (Update), release on error (Delete).
    const keyTable: TableAccess = {
      table: this.tables.idempotency,
      environmentVariable: ENV.idempotencyTableName,
      actions: ['PutItem', 'GetItem', 'UpdateItem', 'DeleteItem'],
    };
    const chargeTables: TableAccess[] = [
      keyTable,
      // The ledger is created (conditional Put), moved forward and marked with each new attempt
      // (conditional Update), and a pending record is removed (conditional Delete) only when Stripe
      // refused the payment and charged nothing.
      { table: this.tables.ledger, environmentVariable: ENV.ledgerTableName, actions: ['PutItem', 'UpdateItem', 'DeleteItem'] },
    ];
    // What refunds and Stripe's facts (webhook, catch-up) need: the key table under their own key
    // prefixes (refunds, processed event ids), and the ledger read (GetItem) and moved by
    // conditional updates of records the charge path created (UpdateItem), never created or deleted.
    // Never the orders' personal data, which only the charge functions keep and read.
    const factTables: TableAccess[] = [
      { ...keyTable, deniedKeyPrefixes: [PERSONAL_DATA_KEY_PREFIX] },
      { table: this.tables.ledger, environmentVariable: ENV.ledgerTableName, actions: ['GetItem', 'UpdateItem'] },
    ];
    // Every function that calls Stripe knows the deployment's namespace and paces itself by the budget.
    const namespace = {
      [ENV.namespace]: props.namespace === undefined ? `${defaultNamespaceOf(serviceName)}-${Aws.ACCOUNT_ID}-${Aws.REGION}` : assertNamespace(props.namespace),
      [ENV.stripeRequestsPerSecond]: String(this.budget.requestsPerSecond),
    };
    const secretsKeyArn = props.secretsKmsKeyArn;
    const chargeFunction = {
      timeout: Duration.seconds(CHARGE_FUNCTION_TIMEOUT_SECONDS),
      tables: chargeTables,
      stripeSecret: secret,
      secretsKeyArn,
      logLevel,
      removalPolicy,
    };

    this.chargePayment = new PaymentsFunction(this, 'ChargePayment', {
      ...chargeFunction,
      entry: entryPath('chargePayment'),
      description: 'POST /payments: charges an order exactly once',
      environment: namespace,
    });

    this.chargeWorker = new PaymentsFunction(this, 'ChargeWorker', {
      ...chargeFunction,
      entry: entryPath('chargeWorker'),
      description: 'Charges queued orders exactly once (the same use case as POST /payments)',
      environment: { ...namespace, [ENV.chargeQueueUrl]: this.queue.queue.queueUrl, [ENV.deadLetterQueueUrl]: this.queue.deadLetterQueue.queueUrl },
    });
    this.chargeWorker.function.addEventSource(
      new SqsEventSource(this.queue.queue, {
        batchSize: this.budget.worker.batchSize,
        maxBatchingWindow: Duration.seconds(chargeQueue.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        // With the batch size, this bounds the worker's Stripe requests in flight (stripe-budget.ts).
        maxConcurrency: this.budget.worker.maxConcurrency,
      }),
    );
    // Messages that can never succeed are moved to the dead-letter queue at once, with their reason.
    this.queue.deadLetterQueue.grantSendMessages(this.chargeWorker.role);
    // A charge Stripe rate limited is sent to the charge queue again, delayed, without spending a receive.
    this.queue.queue.grantSendMessages(this.chargeWorker.role);

    this.refundPayment = new PaymentsFunction(this, 'RefundPayment', {
      entry: entryPath('refundPayment'),
      description: 'POST /payments/{orderId}/refunds: refunds an order exactly once per refundId',
      timeout: Duration.seconds(CHARGE_FUNCTION_TIMEOUT_SECONDS),
      tables: factTables,
      stripeSecret: secret,
      secretsKeyArn,
      environment: namespace,
      logLevel,
      removalPolicy,
    });

    this.getPayment = new PaymentsFunction(this, 'GetPayment', {
      entry: entryPath('getPayment'),
      description: 'GET /payments/{orderId}: the ledger record',
      timeout: Duration.seconds(10),
      tables: [{ table: this.tables.ledger, environmentVariable: ENV.ledgerTableName, actions: ['GetItem'] }],
      logLevel,
      removalPolicy,
    });

    this.stripeWebhook = new PaymentsFunction(this, 'StripeWebhook', {
      entry: entryPath('stripeWebhook'),
      description: 'POST /webhooks/stripe: verified, deduplicated, forward-only ledger updates',
      timeout: Duration.seconds(CHARGE_FUNCTION_TIMEOUT_SECONDS),
      tables: factTables,
      // The API key, to ask Stripe which order a Refund or Dispute made outside this service belongs to.
      stripeSecret: secret,
      secretsKeyArn,
      environment: { ...namespace, [ENV.stripeWebhookSecretId]: webhookSecret.secretName },
      logLevel,
      removalPolicy,
    });
    webhookSecret.grantRead(this.stripeWebhook.role);

    // Scheduled, from Stripe's side: settle what stayed pending, and compare Stripe with the ledger.
    const ledgerOperation = {
      ledger: this.tables.ledger,
      stripeSecret: secret,
      secretsKeyArn,
      alarmTopic: this.queue.alarmTopic,
      environment: namespace,
      logLevel,
      removalPolicy,
    };
    this.reconciler = new Reconciler(this, 'Reconciler', ledgerOperation);
    this.audit = new LedgerAudit(this, 'Audit', { ...ledgerOperation, budget: this.budget });
    this.eventsCatchUp = new EventsCatchUp(this, 'EventsCatchUp', { ...ledgerOperation, tables: factTables });

    this.api = new PaymentsApi(this, 'Api', {
      name: serviceName,
      functions: {
        chargePayment: this.chargePayment.function,
        refundPayment: this.refundPayment.function,
        getPayment: this.getPayment.function,
        stripeWebhook: this.stripeWebhook.function,
      },
      chargeQueue: this.queue.queue,
      removalPolicy,
      budget: this.budget,
      admission: this.admission,
      waf: props.waf ?? false,
      executionLogs: props.executionLogs ?? 'off',
    });
    if (props.reservedConcurrency) {
      const reserved = reservedConcurrencyOf(this.budget, this.admission);
      const functions: Record<ReservedFunction, PaymentsFunction> = {
        chargePayment: this.chargePayment,
        chargeWorker: this.chargeWorker,
        refundPayment: this.refundPayment,
        getPayment: this.getPayment,
        stripeWebhook: this.stripeWebhook,
        reconciler: this.reconciler.function,
        // The audit's slices run its share at once; its plan and verdict, once a day, reserve nothing.
        audit: this.audit.compareSlice,
        eventsCatchUp: this.eventsCatchUp.function,
      };
      Annotations.of(this).addInfo(
        `reservedConcurrency: ${JSON.stringify(reserved)}; the account's Lambda concurrency limit must be at least ${requiredAccountConcurrency(reserved)}`,
      );
      // Set on each function once built, so one table covers the scheduled constructs' functions too.
      for (const [name, fn] of Object.entries(functions)) {
        (fn.function.node.defaultChild as CfnFunction).reservedConcurrentExecutions = reserved[name as ReservedFunction];
      }
    }

    const functions = (list: Array<[string, PaymentsFunction, boolean]>) =>
      list.map(([name, fn, alarmOnErrors]) => ({ name, function: fn.function, timeout: fn.function.timeout ?? Duration.seconds(3), alarmOnErrors }));
    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage: this.api.api.deploymentStage,
      // The scheduled functions own their error alarms.
      functions: functions([
        ['ChargePayment', this.chargePayment, true],
        ['ChargeWorker', this.chargeWorker, true],
        ['RefundPayment', this.refundPayment, true],
        ['GetPayment', this.getPayment, true],
        ['StripeWebhook', this.stripeWebhook, true],
        ['Reconciler', this.reconciler.function, false],
        // The audit's steps: a run that failed after retries is the state machine's alarm.
        ['AuditPlanSlices', this.audit.planSlices, false],
        ['Audit', this.audit.compareSlice, false],
        ['AuditVerdict', this.audit.verdict, false],
        ['EventsCatchUp', this.eventsCatchUp.function, false],
      ]),
      tables: [this.tables.idempotency, this.tables.ledger],
      queue: this.queue.queue,
      deadLetterQueue: this.queue.deadLetterQueue,
      alarmTopic: this.queue.alarmTopic,
      deployment: namespace[ENV.namespace] as string,
    });
    stackOutput(this, 'DashboardUrl', {
      value: `https://${stack.region}.console.aws.amazon.com/cloudwatch/home?region=${stack.region}#dashboards:name=${this.monitoring.dashboard.dashboardName}`,
      description: 'The CloudWatch dashboard of the payments service',
    });

    // The operator commands (npm run dlq:inspect / dlq:redrive) find the queues by these outputs.
    stackOutput(this, 'IdempotencyTableName', { value: this.tables.idempotency.tableName, description: 'The key table (Powertools idempotency records)' });
    stackOutput(this, 'LedgerTableName', { value: this.tables.ledger.tableName, description: 'The payments ledger' });
    stackOutput(this, 'ChargeQueueUrl', { value: this.queue.queue.queueUrl });
    stackOutput(this, 'ChargeQueueArn', { value: this.queue.queue.queueArn });
    stackOutput(this, 'DeadLetterQueueUrl', { value: this.queue.deadLetterQueue.queueUrl });
    stackOutput(this, 'DeadLetterQueueArn', { value: this.queue.deadLetterQueue.queueArn });
    // `npm run reconcile` invokes it for one run now.
    stackOutput(this, 'ReconcilerFunctionName', { value: this.reconciler.function.function.functionName });
    // `npm run audit` starts an execution and waits for its verdict.
    stackOutput(this, 'AuditStateMachineArn', { value: this.audit.stateMachine.stateMachineArn });
    // `npm run events:catch-up` invokes it for one run now.
    stackOutput(this, 'EventsCatchUpFunctionName', { value: this.eventsCatchUp.function.function.functionName });
  }
}

/**
 * The service's name in its stack, unique in the account and region: the stack's name alone for the
 * one in place of the stack, else the stack's name and the construct path in it, joined by `.`
 * (no stack name has one, so `Shop.Payments` is never the stack `Shop-Payments`).
 */
function serviceNameOf(service: Construct, stack: Stack): string {
  const path = service.node.scopes.slice(service.node.scopes.indexOf(stack) + 1).map(({ node }) => node.id);
  const named = path.filter((part) => part !== IN_PLACE_OF_STACK);
  return [stack.stackName, ...named].join('.');
}

function defaultNamespaceOf(serviceName: string): string {
  if (Token.isUnresolved(serviceName))
    throw new Error('PaymentsService in a stack whose name is known only at deploy time (a nested stack): give it a namespace');
  if (!new RegExp(NAMESPACE_PATTERN).test(`${serviceName}-000000000000-xx-xxxx-1`)) {
    throw new Error(`PaymentsService "${serviceName}": its default namespace would not match ${NAMESPACE_PATTERN}: give it a namespace`);
  }
  return serviceName;
}
