import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { type ChargeRequest, PAYMENT_IDENTITY_FIELDS } from '../contract/payment-request';
import { REFUND_IDENTITY_FIELDS, type RefundRequest } from '../contract/refund-request';
import { IDEMPOTENCY_EXPIRY_SECONDS, IDEMPOTENCY_KEY_PREFIX, REFUND_IDEMPOTENCY_KEY_PREFIX } from '../contract/settings';
import { idempotencyTable } from '../contract/tables';
import type { ChargeOrder, ChargeResult } from '../core/charge-order';
import type { RefundOrder, RefundResult } from '../core/refund-order';

/** Powertools' store in the key table, with the attribute names the table is defined with. */
export function keyTablePersistence(dynamoDb: DynamoDBClient, tableName: string): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({
    tableName,
    awsSdkV3Client: dynamoDb,
    keyAttr: idempotencyTable.partitionKey,
    expiryAttr: idempotencyTable.timeToLiveAttribute,
  });
}

/** A use case made idempotent through the key table; pass the Lambda context so a crashed call's lock expires with it. */
export type Idempotent<Input, Result> = (input: Input, context?: Context) => Promise<Result>;
export type IdempotentCharge = Idempotent<ChargeRequest, ChargeResult>;
export type IdempotentRefund = Idempotent<RefundRequest, RefundResult>;

interface IdempotentOptions<Input, Result> {
  useCase: (input: Input) => Promise<Result>;
  dynamoDb: DynamoDBClient;
  tableName: string;
  /** JMESPath of the key within the input. */
  key: string;
  /** The input fields whose change under the same key is another request, not a retry. */
  identityFields: readonly string[];
  /** Stable across renames and identical locally and in AWS (the default is the function name). */
  keyPrefix: string;
}

/** Where one call's result is kept, so it survives a failure of the key table after the work was done. */
interface Outcome<Result> {
  result?: Result;
}

/**
 * Wraps a use case in Powertools idempotency. A concurrent duplicate gets
 * IdempotencyAlreadyInProgressError, a finished one the stored result (marked `replayed`), and
 * the same key with other identity fields gets IdempotencyValidationError.
 */
function makeIdempotentUseCase<Input, Result extends object>({
  useCase,
  dynamoDb,
  tableName,
  key,
  identityFields,
  keyPrefix,
}: IdempotentOptions<Input, Result>): Idempotent<Input, Result> {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: key,
    payloadValidationJmesPath: `[${identityFields.join(', ')}]`,
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: IDEMPOTENCY_EXPIRY_SECONDS,
    // Only a stored result comes through this hook, so it marks exactly the replays.
    responseHook: (response) => ({ ...(response as object), replayed: true }),
  });
  // Only the input (argument 0) is hashed; the outcome holder rides along.
  const run = makeIdempotent(async (input: Input, outcome: Outcome<Result>) => (outcome.result = await useCase(input)), {
    persistenceStore: keyTablePersistence(dynamoDb, tableName),
    config,
    keyPrefix,
    dataIndexArgument: 0,
  });
  return async (input, context) => {
    if (context !== undefined) config.registerLambdaContext(context);
    const outcome: Outcome<Result> = {};
    try {
      return (await run(input, outcome)) as Result;
    } catch (error) {
      // The work is done and the ledger holds it; only completing the key failed. The answer is
      // the result, and a retry is served from the ledger once the key's lock expires.
      if (outcome.result !== undefined) return outcome.result;
      throw error;
    }
  };
}

/** The charge, keyed on the orderId; the same orderId with another amount, currency, method or customer is refused. */
export function createIdempotentCharge({ chargeOrder, ...store }: { chargeOrder: ChargeOrder; dynamoDb: DynamoDBClient; tableName: string }): IdempotentCharge {
  return makeIdempotentUseCase({ useCase: chargeOrder, ...store, key: 'orderId', identityFields: PAYMENT_IDENTITY_FIELDS, keyPrefix: IDEMPOTENCY_KEY_PREFIX });
}

/** A refund, keyed on (orderId, refundId); the same refundId with another amount or reason is refused. */
export function createIdempotentRefund({ refundOrder, ...store }: { refundOrder: RefundOrder; dynamoDb: DynamoDBClient; tableName: string }): IdempotentRefund {
  return makeIdempotentUseCase({
    useCase: refundOrder,
    ...store,
    key: '[orderId, refundId]',
    identityFields: REFUND_IDENTITY_FIELDS,
    keyPrefix: REFUND_IDEMPOTENCY_KEY_PREFIX,
  });
}
