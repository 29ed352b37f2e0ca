import { stripeFromSecret } from '../adapters/charge-service';
import { createPendingLedger, createRefundsLedger } from '../adapters/dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv } from '../adapters/environment';
import { createStripePayments, createStripeRefunds } from '../adapters/stripe-payments';
import { withTracing } from '../adapters/tracing';
import { ENV } from '../contract/environment';
import { stripeBudgetOf, stripeRequestsPerSecondFrom } from '../contract/stripe-budget';
import { createReconcilePending } from '../core/reconcile-pending';
import { createReconcileRefunds } from '../core/reconcile-refunds';
import { ledgerChangeMetrics, serviceMetrics } from '../handlers/outcome-metrics';
import { createReconcileHandler } from '../handlers/reconcile-pending';

const dynamoDb = lambdaDynamoDbClient();
const ledgerTableName = requiredEnv(ENV.ledgerTableName);
const stripe = stripeFromSecret(requiredEnv(ENV.stripeSecretId));
const graceSeconds = Number(requiredEnv(ENV.pendingGraceSeconds));
const budget = stripeBudgetOf(stripeRequestsPerSecondFrom(requiredEnv(ENV.stripeRequestsPerSecond))).reconciler;
const metrics = serviceMetrics();

/** The scheduled reconciler as deployed, built at init; the Stripe SDK is loaded by the first run that finds something to settle. */
export const handler = withTracing(
  createReconcileHandler(
    {
      pending: createReconcilePending({ ledger: createPendingLedger(dynamoDb, ledgerTableName), payments: createStripePayments(stripe), graceSeconds, budget }),
      refunds: createReconcileRefunds({
        ledger: createRefundsLedger(dynamoDb, ledgerTableName),
        payments: createStripeRefunds(stripe),
        graceSeconds,
        budget,
        observer: ledgerChangeMetrics(metrics),
      }),
    },
    undefined,
    metrics,
  ),
);
