import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { EVENTS_CATCH_UP_INTERVAL_MINUTES, EVENTS_CATCH_UP_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import { entryPath } from './bundling';
import { operatorCommand } from './operator-command';
import type { TableAccess } from './payments-function';
import { type LedgerOperationProps, ScheduledFunction } from './scheduled-function';

export interface EventsCatchUpProps extends LedgerOperationProps {
  /** The webhook's tables: its processed event ids (so an event is applied once) beside the checkpoint, and the ledger. */
  tables: TableAccess[];
}

/** Stripe's Events API, read every few minutes: every event a webhook missed reaches the ledger within one interval. */
export class EventsCatchUp extends ScheduledFunction {
  constructor(scope: Construct, id: string, props: EventsCatchUpProps) {
    super(scope, id, {
      entry: entryPath('catchUpEvents'),
      description: "Applies the Stripe events a webhook missed, from Stripe's Events API (never charges or refunds)",
      timeout: Duration.seconds(EVENTS_CATCH_UP_TIMEOUT_SECONDS),
      every: Duration.minutes(EVENTS_CATCH_UP_INTERVAL_MINUTES),
      tables: props.tables,
      stripeSecret: props.stripeSecret,
      secretsKeyArn: props.secretsKeyArn,
      environment: props.environment,
      alarmTopic: props.alarmTopic,
      whenItFails: `The Events API catch-up failed a run: events a webhook missed may not reach the ledger. Read its log group, check Stripe and DynamoDB, then ${operatorCommand(scope, 'events:catch-up')}.`,
      logLevel: props.logLevel,
      removalPolicy: props.removalPolicy,
    });
  }
}
