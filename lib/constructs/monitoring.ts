import { Duration } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Operation, type Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC_NAMES, METRICS_NAMESPACE, type MetricName, metricDimensions } from '../../lambdas/contract/environment';
import { operatorCommand } from './operator-command';

export interface MonitoredFunction {
  name: string;
  function: IFunction;
  timeout: Duration;
  /** False for functions whose errors another alarm already watches (the scheduled ones own theirs). */
  alarmOnErrors: boolean;
}

export interface MonitoringProps {
  stage: Stage;
  functions: MonitoredFunction[];
  tables: Table[];
  queue: IQueue;
  deadLetterQueue: IQueue;
  alarmTopic: ITopic;
  /** The deployment's namespace: the `deployment` dimension of the service's own metrics. */
  deployment: string;
}

/** Share of API requests answered 5xx, over five minutes, that alarms. */
export const API_5XX_RATE_ALARM = 0.05;
/** A function's longest run, as a share of its timeout, that alarms: it is about to time out. */
export const DURATION_ALARM_SHARE = 0.8;

const FIVE_MINUTES = Duration.minutes(5);

/**
 * One dashboard for everything that can go wrong, and an alarm to the alarm topic for each thing a
 * person must act on. Written with plain CDK rather than a monitoring library: a few dozen widgets
 * and alarms, each threshold explicit here and asserted by the infrastructure tests, for stage `v1`.
 */
export class Monitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const alarm = (
      alarmId: string,
      metric: IMetric,
      threshold: number,
      description: string,
      comparisonOperator = ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods = 1,
    ) => {
      const created = new Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(new SnsAction(props.alarmTopic));
      this.alarms.push(created);
      return created;
    };
    const business = (name: MetricName, statistic = 'Sum') =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: metricDimensions(props.deployment), statistic, period: FIVE_MINUTES });

    // API Gateway, stage v1.
    const { stage } = props;
    alarm(
      'Api5xxRate',
      stage.metricServerError({ statistic: 'Average', period: FIVE_MINUTES }),
      API_5XX_RATE_ALARM,
      "More than 5% of API requests failed with 5xx: open the dashboard (API and function widgets), then the failing function's log group.",
    );

    // Every function: errors, throttles, and runs close to the timeout.
    const functionWidgets: GraphWidget[] = [];
    for (const { name, function: fn, timeout, alarmOnErrors } of props.functions) {
      if (alarmOnErrors)
        alarm(
          `${name}Errors`,
          fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
          1,
          `${name} failed invocations: read its log group (errors are logged with their summary).`,
        );
      alarm(
        `${name}Throttles`,
        fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
        1,
        `${name} was throttled: the account's or the function's concurrency is exhausted.`,
      );
      alarm(
        `${name}NearTimeout`,
        fn.metricDuration({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        timeout.toMilliseconds() * DURATION_ALARM_SHARE,
        `${name} ran for more than ${DURATION_ALARM_SHARE * 100}% of its ${timeout.toSeconds()} s timeout: Stripe or DynamoDB is slow (StripeLatency, the table widgets).`,
      );
      functionWidgets.push(
        new GraphWidget({
          title: `${name}: invocations, errors, throttles, concurrency`,
          left: [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles()],
          right: [
            new Metric({ namespace: 'AWS/Lambda', metricName: 'ConcurrentExecutions', dimensionsMap: { FunctionName: fn.functionName }, statistic: 'Maximum' }),
          ],
          width: 12,
        }),
        new GraphWidget({
          title: `${name}: duration against its timeout`,
          left: [fn.metricDuration({ statistic: 'p99' }), fn.metricDuration({ statistic: 'Maximum' })],
          leftAnnotations: [{ value: timeout.toMilliseconds(), label: 'timeout' } satisfies HorizontalAnnotation],
          width: 12,
        }),
      );
    }

    // Both tables.
    const tableWidgets: GraphWidget[] = [];
    // The operations the functions use (an alarm may sum at most ten metrics).
    const operations = [Operation.GET_ITEM, Operation.PUT_ITEM, Operation.UPDATE_ITEM, Operation.DELETE_ITEM, Operation.QUERY];
    for (const table of props.tables) {
      const name = table.node.id;
      alarm(
        `${name}Throttles`,
        table.metricThrottledRequestsForOperations({ operations, period: FIVE_MINUTES }),
        1,
        `${name}: DynamoDB throttled requests; charges answer 503 and the queue retries.`,
      );
      alarm(
        `${name}SystemErrors`,
        table.metricSystemErrorsForOperations({ operations, period: FIVE_MINUTES }),
        1,
        `${name}: DynamoDB system errors; check the AWS Health Dashboard.`,
      );
      // Each sum of operations in a graph of its own: their metric ids would clash in one.
      tableWidgets.push(
        new GraphWidget({
          title: `${name}: consumed capacity, throttled requests`,
          left: [table.metricConsumedReadCapacityUnits(), table.metricConsumedWriteCapacityUnits()],
          right: [table.metricThrottledRequestsForOperations({ operations })],
          width: 12,
        }),
        new GraphWidget({ title: `${name}: system errors`, left: [table.metricSystemErrorsForOperations({ operations })], width: 12 }),
      );
    }

    // Webhooks that need a person: a fact about another payment, or about an order never recorded.
    alarm(
      'WebhookConflicts',
      business(METRIC_NAMES.webhookConflict),
      1,
      `A webhook named another PaymentIntent, amount or currency than the order's: compare the order at Stripe with \`GET /payments/{orderId}\`; ${operatorCommand(this, 'audit')}.`,
    );
    alarm(
      'WebhookUnknownOrders',
      business(METRIC_NAMES.webhookUnknownOrder),
      1,
      `A webhook of this deployment named an order the ledger never recorded: ${operatorCommand(this, 'audit')} lists the PaymentIntent without a record.`,
    );

    // Money that was meant to go back to a customer and did not.
    alarm(
      'RefundsFailed',
      business(METRIC_NAMES.refundFailed),
      1,
      'Stripe answered a refund failed or canceled: its amount is refundable again. Find it with `GET /payments/{orderId}` (refunds), see why in the Stripe Dashboard, and refund again under a new refundId or another way.',
    );

    // Re-sent rate-limited messages are new messages, so the backlog alarm cannot see a long rate limit: this does.
    alarm(
      'StripeRateLimited',
      business(METRIC_NAMES.providerRateLimited),
      1,
      'Stripe has refused requests for its rate limit in each of the last 15 minutes: the account is over its limit (another system on it, or a budget above what Stripe grants). Charges answer 429 and queued orders wait; lower `stripeRequestsPerSecond`, or ask Stripe to raise the limit (see docs/scaling.md).',
      ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      3,
    );
    alarm(
      'DisputesOpened',
      business(METRIC_NAMES.disputeOpened),
      1,
      "A customer's bank disputed a payment: the money is held until the dispute closes. Respond with evidence in the Stripe Dashboard before its due date; `GET /payments/{orderId}` shows the dispute.",
    );

    const outcomes = (names: MetricName[]) => names.map((name) => business(name));
    // Dead letters are published by failure code (a dimension more): one series sums every code.
    const deadLetters = new MathExpression({
      expression: `SUM(SEARCH('{${METRICS_NAMESPACE},deployment,failureCode,service} MetricName="${METRIC_NAMES.deadLettered}" deployment="${props.deployment}"', 'Sum', 300))`,
      label: METRIC_NAMES.deadLettered,
      period: FIVE_MINUTES,
      usingMetrics: {},
    });
    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new TextWidget({
            markdown:
              '# Exactly-once payments\nAPI stage `v1`, every function, both tables, the queue, and the business metrics. Alarms notify the alarm topic; docs/operations.md (Dashboard and alarms) says what to do.',
            width: 24,
            height: 2,
          }),
        ],
        [
          new GraphWidget({
            title: 'API v1: requests, 4xx, 5xx',
            left: [stage.metricCount(), stage.metricClientError(), stage.metricServerError()],
            width: 12,
          }),
          new GraphWidget({
            title: 'API v1: latency',
            left: [stage.metricLatency({ statistic: 'p50' }), stage.metricLatency({ statistic: 'p99' })],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: 'Charges: outcomes',
            left: outcomes([METRIC_NAMES.charged, METRIC_NAMES.requiresAction, METRIC_NAMES.declined, METRIC_NAMES.replayed, METRIC_NAMES.canceled]),
            right: outcomes([
              METRIC_NAMES.invalidRequest,
              METRIC_NAMES.keyReused,
              METRIC_NAMES.inProgress,
              METRIC_NAMES.providerUnavailable,
              METRIC_NAMES.providerRateLimited,
              METRIC_NAMES.storeUnavailable,
              METRIC_NAMES.internalError,
            ]),
            width: 12,
          }),
          new GraphWidget({
            title: 'Refunds and disputes',
            left: outcomes([METRIC_NAMES.refundSucceeded, METRIC_NAMES.refundPending, METRIC_NAMES.refundReplayed]),
            right: outcomes([METRIC_NAMES.refundFailed, METRIC_NAMES.refundRefused, METRIC_NAMES.disputeOpened]),
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: 'Stripe latency (ms)',
            left: [business(METRIC_NAMES.stripeLatency, 'p50'), business(METRIC_NAMES.stripeLatency, 'p99')],
            width: 24,
          }),
        ],
        [
          new GraphWidget({
            title: 'Queue: depth, oldest message (s), dead letters',
            left: [props.queue.metricApproximateNumberOfMessagesVisible(), props.deadLetterQueue.metricApproximateNumberOfMessagesVisible()],
            right: [props.queue.metricApproximateAgeOfOldestMessage()],
            width: 12,
          }),
          new GraphWidget({ title: 'Queue worker: retries and dead letters', left: [...outcomes([METRIC_NAMES.queueRetry]), deadLetters], width: 12 }),
        ],
        [
          new GraphWidget({
            title: 'Webhooks: outcomes',
            left: outcomes([METRIC_NAMES.webhookApplied, METRIC_NAMES.webhookDuplicate, METRIC_NAMES.webhookStale, METRIC_NAMES.webhookIgnored]),
            right: outcomes([METRIC_NAMES.webhookConflict, METRIC_NAMES.webhookUnknownOrder, METRIC_NAMES.webhookRejected]),
            width: 12,
          }),
          new GraphWidget({
            title: 'Reconciler, Events API catch-up and audit',
            left: outcomes([METRIC_NAMES.reconcilerSettled, METRIC_NAMES.reconcilerExpired, METRIC_NAMES.eventsCaughtUp]),
            right: [business(METRIC_NAMES.auditDiscrepancies, 'Maximum')],
            width: 12,
          }),
        ],
        ...pairs(functionWidgets),
        ...pairs(tableWidgets),
      ],
    });
  }
}

function pairs<T>(items: T[]): T[][] {
  return Array.from({ length: Math.ceil(items.length / 2) }, (_, i) => items.slice(2 * i, 2 * i + 2));
}
