import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { chargeQueue } from '../../lambdas/contract/queues';

export interface ChargeQueueProps {
  removalPolicy: RemovalPolicy;
}

/**
 * The charge queue with its dead-letter queue (redrive after `maxReceiveCount` receives) and the
 * alarm that fires as soon as anything is dead-lettered: the three belong together.
 */
export class ChargeQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly deadLetterAlarm: Alarm;

  constructor(scope: Construct, id: string, { removalPolicy }: ChargeQueueProps) {
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
      alarmDescription: 'A charge message was dead-lettered: inspect with `npm run dlq:inspect`, fix the cause, then `npm run dlq:redrive`.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
