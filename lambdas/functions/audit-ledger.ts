// Every slice lists its PaymentIntents: the Stripe SDK is loaded at init, with all else the step always needs.
import 'stripe';
import { stripeFromSecret } from '../adapters/charge-service';
import { createLedgerReader, createLedgerWindowReader } from '../adapters/dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv } from '../adapters/environment';
import { createStripeAuditSource } from '../adapters/stripe-payments';
import { withTracing } from '../adapters/tracing';
import { auditPagesPerSecondPerSlice } from '../contract/audit-workflow';
import { ENV } from '../contract/environment';
import { assertNamespace } from '../contract/payment-metadata';
import { PENDING_GRACE_SECONDS, RECONCILE_INTERVAL_MINUTES } from '../contract/settings';
import { createAudit } from '../core/audit';
import { createAuditSliceHandler } from '../handlers/audit-ledger';
import { deployedBudget } from '../handlers/audit-plan';

const dynamoDb = lambdaDynamoDbClient();
const ledgerTableName = requiredEnv(ENV.ledgerTableName);
const stripe = stripeFromSecret(requiredEnv(ENV.stripeSecretId));

/** The audit workflow's CompareSlice step as deployed, built at init. */
export const handler = withTracing(
  createAuditSliceHandler(
    createAudit({
      ...createStripeAuditSource(stripe, assertNamespace(requiredEnv(ENV.namespace)), auditPagesPerSecondPerSlice(deployedBudget())),
      recordsCreatedBetween: createLedgerWindowReader(dynamoDb, ledgerTableName),
      readRecord: createLedgerReader(dynamoDb, ledgerTableName),
      inFlightSeconds: PENDING_GRACE_SECONDS + RECONCILE_INTERVAL_MINUTES * 60,
    }),
  ),
);
