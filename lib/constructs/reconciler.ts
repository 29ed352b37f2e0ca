import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../../lambdas/contract/environment';
import { PENDING_GRACE_SECONDS, RECONCILE_INTERVAL_MINUTES, RECONCILER_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import { pendingIndex, unsettledRefundsIndex } from '../../lambdas/contract/tables';
import { entryPath } from './bundling';
import { operatorCommand } from './operator-command';
import { type LedgerOperationProps, ScheduledFunction } from './scheduled-function';

/** The reconciler: settles orders left pending, and refunds left open, past the grace period from Stripe's side, every few minutes. */
export class Reconciler extends ScheduledFunction {
  constructor(scope: Construct, id: string, props: LedgerOperationProps) {
    super(scope, id, {
      entry: entryPath('reconcilePending'),
      description: "Settles orders left pending and refunds left open past the grace period from Stripe's side (never charges or refunds)",
      timeout: Duration.seconds(RECONCILER_TIMEOUT_SECONDS),
      every: Duration.minutes(RECONCILE_INTERVAL_MINUTES),
      // Pending records and orders with open refunds from two sparse indexes (Query); an order's
      // record read (GetItem) before its refunds are settled; every move a conditional update.
      tables: [
        {
          table: props.ledger,
          environmentVariable: ENV.ledgerTableName,
          actions: ['GetItem', 'UpdateItem'],
          indexes: [pendingIndex, unsettledRefundsIndex].map(({ indexName }) => ({ indexName, actions: ['Query'] })),
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
