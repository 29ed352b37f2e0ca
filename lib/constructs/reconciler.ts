import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contract/environment';
import { PENDING_GRACE_SECONDS, RECONCILE_INTERVAL_MINUTES, RECONCILER_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import { pendingIndex } from '../../lambdas/contract/tables';
import { entryPath } from './bundling';
import { PaymentsFunction } from './payments-function';

export interface ReconcilerProps {
  ledger: ITable;
  stripeSecret: ISecret;
  /** Where its error alarm notifies. */
  alarmTopic: ITopic;
  /** Variables every payments function shares (the namespace). */
  environment: Record<string, string>;
  logLevel: string;
  removalPolicy: RemovalPolicy;
}

/**
 * The reconciler: a function on a schedule that settles pending orders from Stripe's side, and
 * the alarm that fires when a run fails (it could not settle every order, or could not run).
 */
export class Reconciler extends Construct {
  readonly function: PaymentsFunction;
  readonly errorAlarm: Alarm;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    this.function = new PaymentsFunction(this, 'Function', {
      entry: entryPath('reconcilePending'),
      description: 'Settles orders left pending past the grace period from Stripe\'s side (never charges)',
      timeout: Duration.seconds(RECONCILER_TIMEOUT_SECONDS),
      // Pending records from the sparse index (Query), settled or expired by conditional updates.
      tables: [
        { table: props.ledger, environmentVariable: ENV.ledgerTableName, actions: ['UpdateItem'], index: { indexName: pendingIndex.indexName, actions: ['Query'] } },
      ],
      stripeSecret: props.stripeSecret,
      environment: { ...props.environment, [ENV.pendingGraceSeconds]: String(PENDING_GRACE_SECONDS) },
      logLevel: props.logLevel,
      removalPolicy: props.removalPolicy,
    });
    // The next scheduled run is the retry: a failed run is not run again at once, on top of it.
    this.function.function.configureAsyncInvoke({ retryAttempts: 0 });
    new Rule(this, 'Schedule', {
      description: 'Runs the reconciler',
      schedule: Schedule.rate(Duration.minutes(RECONCILE_INTERVAL_MINUTES)),
      targets: [new LambdaFunction(this.function.function, { retryAttempts: 2 })],
    });
    this.errorAlarm = new Alarm(this, 'ErrorAlarm', {
      alarmDescription: 'The reconciler failed a run: pending orders may stay unsettled. Read its log group, check Stripe and DynamoDB, then `npm run reconcile`.',
      metric: this.function.function.metricErrors({ period: Duration.minutes(RECONCILE_INTERVAL_MINUTES), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.errorAlarm.addAlarmAction(new SnsAction(props.alarmTopic));
  }
}
