import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { PAYMENT_IDENTITY_FIELDS, type ChargeRequest } from '../contract/payment-request';
import { IDEMPOTENCY_EXPIRY_SECONDS, IDEMPOTENCY_KEY_PREFIX } from '../contract/settings';
import { idempotencyTable } from '../contract/tables';
import type { ChargeOrder, ChargeResult } from '../core/charge-order';

export interface IdempotentChargeOptions {
  chargeOrder: ChargeOrder;
  dynamoDb: DynamoDBClient;
  tableName: string;
}

/** Charges an order through the key table; pass the Lambda context so a crashed call's lock expires with it. */
export type IdempotentCharge = (order: ChargeRequest, context?: Context) => Promise<ChargeResult>;

/**
 * Wraps the charge use case in Powertools idempotency, keyed on orderId. A concurrent duplicate
 * gets IdempotencyAlreadyInProgressError, a finished one the stored result, and the same orderId
 * with another amount, currency, method or customer gets IdempotencyValidationError.
 */
export function createIdempotentCharge({ chargeOrder, dynamoDb, tableName }: IdempotentChargeOptions): IdempotentCharge {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'orderId',
    payloadValidationJmesPath: `[${PAYMENT_IDENTITY_FIELDS.join(', ')}]`,
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: IDEMPOTENCY_EXPIRY_SECONDS,
    // Only a stored result comes through this hook, so it marks exactly the replays.
    responseHook: (response) => ({ ...(response as object), replayed: true }),
  });
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName,
    awsSdkV3Client: dynamoDb,
    keyAttr: idempotencyTable.partitionKey,
    expiryAttr: idempotencyTable.timeToLiveAttribute,
  });
  const charge = makeIdempotent(chargeOrder, { persistenceStore, config, keyPrefix: IDEMPOTENCY_KEY_PREFIX });
  return (order, context) => {
    if (context !== undefined) config.registerLambdaContext(context);
    return charge(order);
  };
}
