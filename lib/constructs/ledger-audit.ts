import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AUDIT_SLICE_TIMEOUT_SECONDS, AUDIT_STEP_TIMEOUT_SECONDS, auditWorkflowDefinition } from '../../lambdas/contract/audit-workflow';
import { ENV, METRIC_NAMES, METRICS_NAMESPACE, metricDimensions } from '../../lambdas/contract/environment';
import { DAILY_AUDIT_WINDOW } from '../../lambdas/contract/settings';
import type { StripeBudget } from '../../lambdas/contract/stripe-budget';
import { createdIndex } from '../../lambdas/contract/tables';
import { entryPath } from './bundling';
import { operatorCommand } from './operator-command';
import { PaymentsFunction } from './payments-function';
import type { LedgerOperationProps } from './scheduled-function';

export interface LedgerAuditProps extends LedgerOperationProps {
  /** The audit compares `budget.audit.maxConcurrency` slices at once, each at its share of the audit's Stripe rate. */
  budget: StripeBudget;
}

const STEP_TIMEOUT = Duration.seconds(AUDIT_STEP_TIMEOUT_SECONDS);
/** A run ends before the next day's starts. */
const RUN_TIMEOUT = Duration.hours(23);

/**
 * The daily audit of Stripe against the ledger: a Step Functions state machine (the definition in
 * lambdas/contract/audit-workflow.ts, which `npm start` runs too) that plans the window's slices,
 * compares them in a Map at the audit's share of the Stripe budget, and gives one verdict; the alarm
 * on any difference it finds, and the one on a run that failed.
 */
export class LedgerAudit extends Construct {
  readonly planSlices: PaymentsFunction;
  /** The comparison of one slice (id `Function`: the audit's function, and log group, before the state machine). */
  readonly compareSlice: PaymentsFunction;
  readonly verdict: PaymentsFunction;
  readonly stateMachine: StateMachine;
  readonly errorAlarm: Alarm;
  readonly discrepancyAlarm: Alarm;

  constructor(scope: Construct, id: string, props: LedgerAuditProps) {
    super(scope, id);
    const every = Duration.days(1);
    const common = { logLevel: props.logLevel, removalPolicy: props.removalPolicy, environment: props.environment };
    this.planSlices = new PaymentsFunction(this, 'PlanSlices', {
      ...common,
      // Only the budget the slices are sized by: it publishes no metric, so it has no deployment to name.
      environment: { [ENV.stripeRequestsPerSecond]: props.environment[ENV.stripeRequestsPerSecond] },
      entry: entryPath('auditPlan'),
      description: "Cuts the audit's window into time slices sized by the Stripe budget",
      timeout: STEP_TIMEOUT,
      tables: [],
    });
    this.compareSlice = new PaymentsFunction(this, 'Function', {
      ...common,
      entry: entryPath('auditLedger'),
      description: "Compares this deployment's PaymentIntents at Stripe with the ledger over one time slice (reads only)",
      timeout: Duration.seconds(AUDIT_SLICE_TIMEOUT_SECONDS),
      // The slice's keys from the created index (Query), its records (BatchGetItem), and a record by orderId (GetItem).
      tables: [
        {
          table: props.ledger,
          environmentVariable: ENV.ledgerTableName,
          actions: ['BatchGetItem', 'GetItem'],
          indexes: [{ indexName: createdIndex.indexName, actions: ['Query'] }],
        },
      ],
      stripeSecret: props.stripeSecret,
      secretsKeyArn: props.secretsKeyArn,
    });
    this.verdict = new PaymentsFunction(this, 'Verdict', {
      ...common,
      entry: entryPath('auditVerdict'),
      description: "Adds up the audit's slices into one verdict and its metric",
      timeout: STEP_TIMEOUT,
      tables: [],
    });

    const logs = new LogGroup(this, 'WorkflowLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: props.removalPolicy });
    const steps = [this.planSlices, this.compareSlice, this.verdict].map(({ function: fn }) => fn.functionArn);
    const [plan, compare, verdict] = steps;
    this.stateMachine = new StateMachine(this, 'Workflow', {
      comment: "Compares this deployment's PaymentIntents at Stripe with the ledger (reads only)",
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(
        Stack.of(this).toJsonString(auditWorkflowDefinition({ plan, compare, verdict }, props.budget.audit.maxConcurrency)),
      ),
      timeout: RUN_TIMEOUT,
      tracingEnabled: true,
      // Every state's events; not their data, which the functions' own logs hold.
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
    });
    // The three functions and nothing else (not their versions or aliases).
    this.stateMachine.addToRolePolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: steps }));
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The CloudWatch Logs delivery actions (logs:CreateLogDelivery and the like) and X-Ray PutTraceSegments support no resource-level permissions; these are the statements CDK adds for state machine logging and tracing.',
    });

    new Rule(this, 'Schedule', {
      description: 'Starts the daily audit of Stripe against the ledger',
      schedule: Schedule.rate(every),
      targets: [new SfnStateMachine(this.stateMachine, { input: RuleTargetInput.fromObject(DAILY_AUDIT_WINDOW), retryAttempts: 2 })],
    });
    this.errorAlarm = new Alarm(this, 'ErrorAlarm', {
      alarmDescription: `The daily audit of Stripe against the ledger failed or timed out. Read its state machine's executions, then ${operatorCommand(scope, 'audit')}.`,
      metric: new MathExpression({
        expression: 'failed + timedOut',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ period: every, statistic: 'Sum' }),
          timedOut: this.stateMachine.metricTimedOut({ period: every, statistic: 'Sum' }),
        },
        period: every,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.errorAlarm.addAlarmAction(new SnsAction(props.alarmTopic));
    this.discrepancyAlarm = new Alarm(this, 'DiscrepancyAlarm', {
      alarmDescription: `Stripe and the ledger differ: run ${operatorCommand(this, 'audit -- --since 49h')} for the list; each row names the order, the PaymentIntent and the field.`,
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRIC_NAMES.auditDiscrepancies,
        dimensionsMap: metricDimensions(props.environment[ENV.namespace]),
        period: every,
        statistic: 'Maximum',
      }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      // A day without a verdict is the error alarm's business.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.discrepancyAlarm.addAlarmAction(new SnsAction(props.alarmTopic));
  }
}
