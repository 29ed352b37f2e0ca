import { IdempotencyConfig, IdempotencyValidationError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
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

/**
 * A use case in steps, so that its ledger writes travel with the key table's instead of after them:
 * `open` is sent together with the key claim, and the write `run` leaves in flight (`recorded`)
 * together with the key completion.
 */
interface UseCaseSteps<Input, Opened, Result> {
  open(input: Input): Promise<Opened>;
  run(input: Input, opened: Opened): Promise<{ result: Result; recorded: Promise<unknown> }>;
  /** Undoes `open` for a request the key table refused as another one under the same key. */
  withdraw(opened: Opened): Promise<void>;
}

const ignore = () => undefined;

/** A use case with nothing to overlap: all of it runs after the claim, before the completion. */
function inOneStep<Input, Result>(useCase: (input: Input) => Promise<Result>): UseCaseSteps<Input, undefined, Result> {
  return {
    open: async () => undefined,
    run: async (input) => ({ result: await useCase(input), recorded: Promise.resolve() }),
    withdraw: async () => undefined,
  };
}

interface IdempotentOptions<Input, Opened, Result> {
  steps: UseCaseSteps<Input, Opened, Result>;
  dynamoDb: DynamoDBClient;
  tableName: string;
  /** JMESPath of the key within the input. */
  key: string;
  /** The input fields whose change under the same key is another request, not a retry. */
  identityFields: readonly string[];
  /** Stable across renames and identical locally and in AWS (the default is the function name). */
  keyPrefix: string;
}

/** What one call's steps did, kept beside Powertools: the open write, and the result with its write in flight. */
interface Progress<Opened, Result> {
  opened: Promise<Opened>;
  ran?: { result: Result; recorded: Promise<unknown> };
}

/**
 * Wraps a use case in Powertools idempotency. A concurrent duplicate gets
 * IdempotencyAlreadyInProgressError, a finished one the stored result (marked `replayed`), and
 * the same key with other identity fields gets IdempotencyValidationError.
 */
function makeIdempotentUseCase<Input, Opened, Result extends object>({
  steps,
  dynamoDb,
  tableName,
  key,
  identityFields,
  keyPrefix,
}: IdempotentOptions<Input, Opened, Result>): Idempotent<Input, Result> {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: key,
    payloadValidationJmesPath: `[${identityFields.join(', ')}]`,
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: IDEMPOTENCY_EXPIRY_SECONDS,
    // Only a stored result comes through this hook, so it marks exactly the replays.
    responseHook: (response) => ({ ...(response as object), replayed: true }),
  });
  // Only the input (argument 0) is hashed; the progress holder rides along.
  const run = makeIdempotent(
    async (input: Input, progress: Progress<Opened, Result>) => {
      const ran = await steps.run(input, await progress.opened);
      ran.recorded.catch(ignore); // awaited once Powertools has completed the key
      progress.ran = ran;
      return ran.result;
    },
    { persistenceStore: keyTablePersistence(dynamoDb, tableName), config, keyPrefix, dataIndexArgument: 0 },
  );
  return async (input, context) => {
    if (context !== undefined) config.registerLambdaContext(context);
    // Sent with the claim, and safe before it is won: a claim lost to a retry leaves the key's
    // holder a record of the same payment; one lost to another payment under this key withdraws it.
    const opened = steps.open(input);
    opened.catch(ignore); // awaited by the use case, or after the claim was refused
    const progress: Progress<Opened, Result> = { opened };
    let answer: Result;
    try {
      // Powertools completes the key while the ledger's last write is in flight, safe because either
      // failing alone leaves what a crash there would: a key the ledger answers for once its lock
      // expires, or a pending record that a webhook or the reconciler settles.
      answer = (await run(input, progress)) as Result;
    } catch (error) {
      if (progress.ran !== undefined) {
        // Only completing the key failed: once the ledger holds the result, that is the answer.
        await progress.ran.recorded;
        return progress.ran.result;
      }
      await afterRefusal(error, opened);
      throw error;
    }
    // A failed ledger write is an error even though the key holds the answer, which a retry gets.
    if (progress.ran !== undefined) await progress.ran.recorded;
    // A replay: the order's record was there, so open wrote nothing.
    else await opened.catch(ignore);
    return answer;
  };

  /** The key was never claimed (or the use case failed): the open write is waited for, and withdrawn if it was another request's. */
  async function afterRefusal(error: unknown, opened: Promise<Opened>): Promise<void> {
    const wrote = await opened.catch(ignore);
    if (wrote !== undefined && error instanceof IdempotencyValidationError) await steps.withdraw(wrote);
  }
}

/** The charge, keyed on the orderId; the same orderId with another amount, currency, method or customer is refused. */
export function createIdempotentCharge({ chargeOrder, ...store }: { chargeOrder: ChargeOrder; dynamoDb: DynamoDBClient; tableName: string }): IdempotentCharge {
  const steps = { open: chargeOrder.open, run: chargeOrder.chargeOpened, withdraw: chargeOrder.withdraw };
  return makeIdempotentUseCase({ steps, ...store, key: 'orderId', identityFields: PAYMENT_IDENTITY_FIELDS, keyPrefix: IDEMPOTENCY_KEY_PREFIX });
}

/** A refund, keyed on (orderId, refundId); the same refundId with another amount or reason is refused. */
export function createIdempotentRefund({ refundOrder, ...store }: { refundOrder: RefundOrder; dynamoDb: DynamoDBClient; tableName: string }): IdempotentRefund {
  return makeIdempotentUseCase({
    steps: inOneStep(refundOrder),
    ...store,
    key: '[orderId, refundId]',
    identityFields: REFUND_IDENTITY_FIELDS,
    keyPrefix: REFUND_IDEMPOTENCY_KEY_PREFIX,
  });
}
