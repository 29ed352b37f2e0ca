import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { PaymentsFunction, type PaymentsFunctionProps } from './payments-function';

/** What the stack gives each scheduled function that reads the ledger and Stripe (the reconciler, the audit). */
export interface LedgerOperationProps {
  ledger: ITable;
  stripeSecret: ISecret;
  secretsKeyArn?: string;
  alarmTopic: ITopic;
  /** Variables every payments function shares (the namespace). */
  environment: Record<string, string>;
  logLevel: string;
  removalPolicy: RemovalPolicy;
}

export interface ScheduledFunctionProps extends PaymentsFunctionProps {
  every: Duration;
  /** Where its error alarm notifies. */
  alarmTopic: ITopic;
  /** What a person does when a run fails: the error alarm's description. */
  whenItFails: string;
  /** The event each scheduled run gets, if any. */
  input?: Record<string, unknown>;
}

/**
 * A payments function run on a schedule (the reconciler, the audit), with the alarm that fires
 * when a run fails. A failed run is not retried on top of the next one: the next run is the retry.
 */
export class ScheduledFunction extends Construct {
  readonly function: PaymentsFunction;
  readonly errorAlarm: Alarm;

  constructor(scope: Construct, id: string, { every, alarmTopic, whenItFails, input, ...functionProps }: ScheduledFunctionProps) {
    super(scope, id);
    this.function = new PaymentsFunction(this, 'Function', functionProps);
    this.function.function.configureAsyncInvoke({ retryAttempts: 0 });
    new Rule(this, 'Schedule', {
      description: functionProps.description,
      schedule: Schedule.rate(every),
      targets: [new LambdaFunction(this.function.function, { retryAttempts: 2, ...(input !== undefined && { event: RuleTargetInput.fromObject(input) }) })],
    });
    this.errorAlarm = new Alarm(this, 'ErrorAlarm', {
      alarmDescription: whenItFails,
      metric: this.function.function.metricErrors({ period: every, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.errorAlarm.addAlarmAction(new SnsAction(alarmTopic));
  }
}
