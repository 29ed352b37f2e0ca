import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Construct } from 'constructs';
import { ENV, METRIC_NAMES, METRICS_NAMESPACE, metricDimensions } from '../../lambdas/contract/environment';
import { AUDIT_TIMEOUT_SECONDS, DAILY_AUDIT_WINDOW } from '../../lambdas/contract/settings';
import { createdIndex } from '../../lambdas/contract/tables';
import { entryPath } from './bundling';
import { operatorCommand } from './operator-command';
import { type LedgerOperationProps, ScheduledFunction } from './scheduled-function';

/** The daily audit of Stripe against the ledger, and the alarm on any difference it finds. */
export class LedgerAudit extends ScheduledFunction {
  readonly discrepancyAlarm: Alarm;

  constructor(scope: Construct, id: string, props: LedgerOperationProps) {
    const every = Duration.days(1);
    super(scope, id, {
      entry: entryPath('auditLedger'),
      description: "Compares this deployment's PaymentIntents at Stripe with the ledger (reads only)",
      timeout: Duration.seconds(AUDIT_TIMEOUT_SECONDS),
      every,
      input: DAILY_AUDIT_WINDOW,
      // The day's records from their index (Query), and a record by orderId (GetItem).
      tables: [
        {
          table: props.ledger,
          environmentVariable: ENV.ledgerTableName,
          actions: ['GetItem'],
          indexes: [{ indexName: createdIndex.indexName, actions: ['Query'] }],
        },
      ],
      stripeSecret: props.stripeSecret,
      secretsKeyArn: props.secretsKeyArn,
      environment: props.environment,
      alarmTopic: props.alarmTopic,
      whenItFails: `The daily audit of Stripe against the ledger failed to run. Read its log group, then ${operatorCommand(scope, 'audit')}.`,
      logLevel: props.logLevel,
      removalPolicy: props.removalPolicy,
    });
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
      // A day without a report is the error alarm's business.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.discrepancyAlarm.addAlarmAction(new SnsAction(props.alarmTopic));
  }
}
