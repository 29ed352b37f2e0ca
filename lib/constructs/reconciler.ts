import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../../lambdas/contract/environment';
import { PENDING_GRACE_SECONDS, RECONCILE_INTERVAL_MINUTES, RECONCILER_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import { pendingIndex } from '../../lambdas/contract/tables';
import { entryPath } from './bundling';
import { operatorCommand } from './operator-command';
import { type LedgerOperationProps, ScheduledFunction } from './scheduled-function';

/** The reconciler: settles orders left pending past the grace period from Stripe's side, every few minutes. */
export class Reconciler extends ScheduledFunction {
  constructor(scope: Construct, id: string, props: LedgerOperationProps) {
    super(scope, id, {
      entry: entryPath('reconcilePending'),
      description: "Settles orders left pending past the grace period from Stripe's side (never charges)",
      timeout: Duration.seconds(RECONCILER_TIMEOUT_SECONDS),
      every: Duration.minutes(RECONCILE_INTERVAL_MINUTES),
      // Pending records from the sparse index (Query), settled or expired by conditional updates.
      tables: [
        {
          table: props.ledger,
          environmentVariable: ENV.ledgerTableName,
          actions: ['UpdateItem'],
          index: { indexName: pendingIndex.indexName, actions: ['Query'] },
        },
      ],
      stripeSecret: props.stripeSecret,
      secretsKeyArn: props.secretsKeyArn,
      environment: { ...props.environment, [ENV.pendingGraceSeconds]: String(PENDING_GRACE_SECONDS) },
      alarmTopic: props.alarmTopic,
      whenItFails: `The reconciler failed a run: pending orders may stay unsettled. Read its log group, check Stripe and DynamoDB, then ${operatorCommand(scope, 'reconcile')}.`,
      logLevel: props.logLevel,
      removalPolicy: props.removalPolicy,
    });
  }
}
