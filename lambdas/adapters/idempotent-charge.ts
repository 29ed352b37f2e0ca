import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { type ChargeRequest, PAYMENT_IDENTITY_FIELDS } from '../contract/payment-request';
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

/** Powertools' store in the key table, with the attribute names the table is defined with. */
export function keyTablePersistence(dynamoDb: DynamoDBClient, tableName: string): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({
    tableName,
    awsSdkV3Client: dynamoDb,
    keyAttr: idempotencyTable.partitionKey,
    expiryAttr: idempotencyTable.timeToLiveAttribute,
  });
}

/** Where one call's result is kept, so it survives a failure of the key table after the charge. */
interface Outcome {
  result?: ChargeResult;
}

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
  const persistenceStore = keyTablePersistence(dynamoDb, tableName);
  // Only the order (argument 0) is hashed; the outcome holder rides along.
  const charge = makeIdempotent(async (order: ChargeRequest, outcome: Outcome) => (outcome.result = await chargeOrder(order)), {
    persistenceStore,
    config,
    keyPrefix: IDEMPOTENCY_KEY_PREFIX,
    dataIndexArgument: 0,
  });
  return async (order, context) => {
    if (context !== undefined) config.registerLambdaContext(context);
    const outcome: Outcome = {};
    try {
      return await charge(order, outcome);
    } catch (error) {
      // The order was charged and the ledger holds it; only completing the key failed. The answer
      // is the charge, and a retry is served from the ledger once the key's lock expires.
      if (outcome.result !== undefined) return outcome.result;
      throw error;
    }
  };
}
