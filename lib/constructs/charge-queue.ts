import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { chargeQueue } from '../../lambdas/contract/queues';
import { operatorCommand } from './operator-command';

export interface ChargeQueueProps {
  removalPolicy: RemovalPolicy;
  /** Subscribed to the alarm topic when given. */
  alarmEmail?: string;
}

/**
 * The charge queue with its dead-letter queue (redrive after `maxReceiveCount` receives), the alarm
 * that fires as soon as anything is dead-lettered, the alarm that fires when queued orders wait too
 * long, and the topic both notify: they belong together.
 */
export class ChargeQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly deadLetterAlarm: Alarm;
  readonly backlogAlarm: Alarm;
  readonly alarmTopic: Topic;

  constructor(scope: Construct, id: string, { removalPolicy, alarmEmail }: ChargeQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(chargeQueue.deadLetterRetentionDays),
      removalPolicy,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(chargeQueue.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(chargeQueue.retentionDays),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: chargeQueue.maxReceiveCount },
      removalPolicy,
    });
    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `A charge message was dead-lettered: inspect with ${operatorCommand(this, 'dlq:inspect')}, fix the cause, then ${operatorCommand(this, 'dlq:redrive')}.`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.backlogAlarm = new Alarm(this, 'BacklogAlarm', {
      alarmDescription: 'Queued charges are waiting longer than expected: is the worker throttled, failing or disabled?',
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: chargeQueue.oldestMessageAlarmSeconds,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    this.alarmTopic = new Topic(this, 'AlarmTopic', { enforceSSL: true });
    // enforceSSL gives the topic a policy, which replaces SNS's default one: CloudWatch may then
    // publish only if a statement allows it, for this stack's alarms (their names start with the stack's).
    const stack = Stack.of(this);
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisStack',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${stack.stackName}-*` },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    if (alarmEmail !== undefined) this.alarmTopic.addSubscription(new EmailSubscription(alarmEmail));
    for (const alarm of [this.deadLetterAlarm, this.backlogAlarm]) alarm.addAlarmAction(new SnsAction(this.alarmTopic));
    Validations.of(this.alarmTopic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key costs money in a sandbox; the notifications carry alarm names, not payment data.',
    });
  }
}
