import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type Stripe from 'stripe';
import { ENV, METRIC_NAMES } from '../contract/environment';
import { assertNamespace } from '../contract/payment-metadata';
import { createChargeOrder, type OrderChannel } from '../core/charge-order';
import { createRefundOrder } from '../core/refund-order';
import { createDynamoDbLedger, createRefundsLedger } from './dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv, secretReader } from './environment';
import { createIdempotentCharge, createIdempotentRefund, type IdempotentCharge, type IdempotentRefund } from './idempotent-use-cases';
import { createPersonalDataStore } from './personal-data';
import { createStripePayments, createStripeRefunds, stripeClientOnFirstNeed } from './stripe-payments';

export interface ChargeServiceOptions {
  dynamoDb: DynamoDBClient;
  idempotencyTableName: string;
  ledgerTableName: string;
  stripe: () => Promise<Stripe>;
  /** This deployment's namespace at Stripe (idempotency keys, metadata, what is taken as ours). */
  namespace: string;
}

/** The idempotent charge wired to DynamoDB and Stripe, for orders from one channel: used as-is by Lambda and the local runtime. */
export function createChargeService(
  { dynamoDb, idempotencyTableName, ledgerTableName, stripe, namespace }: ChargeServiceOptions,
  channel: OrderChannel,
  metrics?: Metrics,
): IdempotentCharge {
  const chargeOrder = createChargeOrder({
    ledger: createDynamoDbLedger(dynamoDb, ledgerTableName),
    payments: createStripePayments(stripe, metrics && ((ms) => metrics.addMetric(METRIC_NAMES.stripeLatency, MetricUnit.Milliseconds, ms))),
    personalData: createPersonalDataStore(dynamoDb, idempotencyTableName),
    origin: { channel, namespace },
  });
  return createIdempotentCharge({ chargeOrder, dynamoDb, tableName: idempotencyTableName });
}

/**
 * The idempotent refund wired to DynamoDB and Stripe. It needs no namespace of its own: each
 * refund is made in the namespace its order's record was charged in.
 */
export function createRefundService({ dynamoDb, idempotencyTableName, ledgerTableName, stripe }: ChargeServiceOptions): IdempotentRefund {
  const refundOrder = createRefundOrder({ ledger: createRefundsLedger(dynamoDb, ledgerTableName), payments: createStripeRefunds(stripe) });
  return createIdempotentRefund({ refundOrder, dynamoDb, tableName: idempotencyTableName });
}

/** The refund service as deployed. */
export function refundServiceFromEnvironment(): IdempotentRefund {
  return createRefundService(serviceOptionsFromEnvironment());
}

/** What charges and webhooks use as deployed: table names and namespace from the environment, the Stripe key from Secrets Manager. */
export function serviceOptionsFromEnvironment(): ChargeServiceOptions {
  return {
    dynamoDb: lambdaDynamoDbClient(),
    idempotencyTableName: requiredEnv(ENV.idempotencyTableName),
    ledgerTableName: requiredEnv(ENV.ledgerTableName),
    stripe: stripeFromSecret(requiredEnv(ENV.stripeSecretId)),
    namespace: assertNamespace(requiredEnv(ENV.namespace)),
  };
}

/** The charge service as deployed. */
export function chargeServiceFromEnvironment(channel: OrderChannel, metrics?: Metrics): IdempotentCharge {
  return createChargeService(serviceOptionsFromEnvironment(), channel, metrics);
}

/** Reads the Stripe key from its secret (cached), and keeps one client per key value; the SDK is loaded with the first. */
export function stripeFromSecret(secretId: string): () => Promise<Stripe> {
  return stripeClientOnFirstNeed(secretReader(secretId));
}
