import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { type ChargeRequest, PAYMENT_IDENTITY_FIELDS } from '../contract/payment-request';
import { REFUND_IDENTITY_FIELDS, type RefundRequest } from '../contract/refund-request';
import { IDEMPOTENCY_EXPIRY_SECONDS, IDEMPOTENCY_KEY_PREFIX, REFUND_IDEMPOTENCY_KEY_PREFIX } from '../contract/settings';
import { idempotencyTable } from '../contract/tables';
import type { ChargeOrder, ChargeResult, OpenedOrder } from '../core/charge-order';
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
  /** Sends the first ledger write; `withdraw` undoes it for a request that never ran, given its answer (undefined if lost). */
  open(input: Input): { opened: Promise<Opened>; withdraw(opened?: Opened): Promise<void> };
  run(input: Input, opened: Opened): Promise<{ result: Result; recorded: Promise<unknown> }>;
}

const ignore = () => undefined;

/** A use case with nothing to overlap: all of it runs after the claim, before the completion. */
function inOneStep<Input, Result>(useCase: (input: Input) => Promise<Result>): UseCaseSteps<Input, undefined, Result> {
  return {
    open: () => ({ opened: Promise.resolve(undefined), withdraw: async () => undefined }),
    run: async (input) => ({ result: await useCase(input), recorded: Promise.resolve() }),
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

/** What one call's steps did, kept beside Powertools: the open write, whether the use case started, its result with its write in flight. */
interface Progress<Opened, Result> {
  opened: Promise<Opened>;
  started: boolean;
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
      progress.started = true;
      const ran = await steps.run(input, await progress.opened);
      ran.recorded.catch(ignore); // awaited once Powertools has completed the key
      progress.ran = ran;
      return ran.result;
    },
    { persistenceStore: keyTablePersistence(dynamoDb, tableName), config, keyPrefix, dataIndexArgument: 0 },
  );
  return async (input, context) => {
    if (context !== undefined) config.registerLambdaContext(context);
    // Sent with the claim, and safe before it is won: a request that does not win it withdraws
    // what it wrote (unless the key's holder took it up), and the holder waits for that withdrawal.
    const { opened, withdraw } = steps.open(input);
    opened.catch(ignore); // awaited by the use case, or before the withdrawal
    const progress: Progress<Opened, Result> = { opened, started: false };
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
      // Refused, or the claim failed: this request never ran, so what it wrote goes. The refusal
      // is the answer even if the withdrawal fails (its record is then the holder's to wait out).
      if (!progress.started) await opened.then(withdraw, () => withdraw()).catch(ignore);
      throw error;
    }
    // A failed ledger write is an error even though the key holds the answer, which a retry gets.
    if (progress.ran !== undefined) await progress.ran.recorded;
    // A replay: the order's final record was there, so open wrote nothing.
    else await opened.catch(ignore);
    return answer;
  };
}

/** The charge, keyed on the orderId; the same orderId with another amount, currency, method or customer is refused. */
export function createIdempotentCharge({ chargeOrder, ...store }: { chargeOrder: ChargeOrder; dynamoDb: DynamoDBClient; tableName: string }): IdempotentCharge {
  const steps: UseCaseSteps<ChargeRequest, OpenedOrder, ChargeResult> = {
    open: (order) => {
      const { pending, opened } = chargeOrder.open(order);
      return { opened, withdraw: (answer) => chargeOrder.withdraw(pending, answer) };
    },
    run: chargeOrder.chargeOpened,
  };
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
