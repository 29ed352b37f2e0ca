/**
 * The races the overlapped writes allow (the ledger create sent with the key claim, the finalize
 * with the key completion: idempotent-use-cases.ts), each forced on DynamoDB Local and the Stripe
 * emulator. The only injection is middleware on real DynamoDB clients that holds a request, or
 * loses its answer, as a slow network, throttling or a timeout would.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import type { PermanentFailure } from '../../lambdas/adapters/dead-letter-queue';
import { createPendingLedger } from '../../lambdas/adapters/dynamodb-ledger';
import { createStripePayments } from '../../lambdas/adapters/stripe-payments';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { PERSONAL_DATA_KEY_PREFIX } from '../../lambdas/contract/tables';
import { createReconcilePending } from '../../lambdas/core/reconcile-pending';
import { createChargeWorkerHandler } from '../../lambdas/handlers/charge-worker';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { lambdaContext } from '../../local/lambda-context';
import {
  backdateLedger,
  chargeHandler,
  type LocalParts,
  ledgerRecord,
  newOrderId,
  post,
  serviceOptions,
  silentLogger,
  startLocalParts,
} from '../support/local-parts';
import { sqsRecord } from '../support/sqs-records';

let parts: LocalParts;
const clients: DynamoDBClient[] = [];
beforeAll(async () => {
  parts = await startLocalParts();
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await parts?.stop();
});

const order = (orderId: string, extra: Record<string, unknown> = {}) => ({ orderId, amount: 4200, currency: 'EUR', paymentMethod: 'pm_card_visa', ...extra });
const body = (response: { body: string }) => JSON.parse(response.body);

interface Gate {
  promise: Promise<void>;
  open(): void;
}
/** Opens when told, or after `fallbackMs` if given (so a write the code under test never sends cannot hang the test). */
function gate(fallbackMs?: number): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
    if (fallbackMs !== undefined) setTimeout(resolve, fallbackMs).unref();
  });
  return { promise, open };
}

type Table = 'ledger' | 'key';
type Verb = 'put' | 'update' | 'delete';
/** What happens to one kind of request: wait before it is sent; be told after (and, by returning an error, lose its answer). */
interface Hook {
  before?: () => Promise<unknown>;
  after?: (error: unknown) => unknown;
}

/**
 * A real DynamoDB client whose requests to the ledger or key table meet the hooks. `key:put` is the
 * Powertools claim only (not the personal-data put). At `initialize`, outside the SDK's retries;
 * at `deserialize`, inside them (a lost answer is then retried by the SDK, as a timeout would be).
 */
function hookedClient(hooks: Partial<Record<`${Table}:${Verb}`, Hook>>, step: 'initialize' | 'deserialize' = 'initialize'): DynamoDBClient {
  const client = localDynamoDbClient(parts.dynamoDbLocal.endpoint);
  clients.push(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string; Item?: Record<string, { S?: string } | string> };
      const name = context.commandName ?? '';
      const verb: Verb | undefined = name.startsWith('Put') ? 'put' : name.startsWith('Update') ? 'update' : name.startsWith('Delete') ? 'delete' : undefined;
      const table: Table | undefined =
        input.TableName === parts.tables.ledgerTableName ? 'ledger' : input.TableName === parts.tables.idempotencyTableName ? 'key' : undefined;
      const id = input.Item?.id;
      const personal = (typeof id === 'string' ? id : (id?.S ?? '')).startsWith(PERSONAL_DATA_KEY_PREFIX);
      const hook = verb && table && !personal ? hooks[`${table}:${verb}`] : undefined;
      if (hook === undefined) return next(args);
      await hook.before?.();
      let result: Awaited<ReturnType<typeof next>>;
      try {
        result = await next(args);
      } catch (error) {
        const replaced = hook.after?.(error);
        throw replaced ?? error;
      }
      const replaced = hook.after?.(undefined);
      if (replaced !== undefined) throw replaced;
      return result;
    },
    // Typed as `initialize` only: the middleware reads nothing a step before `deserialize` lacks.
    { step: step as 'initialize', name: 'reviewHooks' },
  );
  return client;
}

/** The answer of a write that landed, lost on the way back (a reset connection; the SDK treats it as a timeout). */
const lostAnswer = () => Object.assign(new Error('the connection was reset after the write'), { name: 'TimeoutError', code: 'ECONNRESET', $metadata: {} });

const reconcile = () =>
  createReconcilePending({
    ledger: createPendingLedger(parts.dynamoDb, parts.tables.ledgerTableName),
    payments: createStripePayments(async () => parts.stripe),
    graceSeconds: 60,
    budget: stripeBudgetOf(1_000).reconciler,
  })();

describe("a refused request's ledger create, sent with its claim", () => {
  it('tells the key holder to retry, never refuses it, when the refused request withdraws after its wait; the retry charges', async () => {
    const orderId = newOrderId('holder-sees-other');
    const holderClaimed = gate();
    const otherCreated = gate(1_500); // before this commit, a refused request wrote nothing
    const otherRefused = gate();
    const holderAnswered = gate();
    // The holder (4200): its claim lands at once, its create a moment later (after the other's).
    const holderHandler = chargeHandler(
      parts,
      hookedClient({
        'key:put': { after: () => void holderClaimed.open() },
        'ledger:put': { before: () => Promise.all([otherCreated.promise, otherRefused.promise]) },
      }),
    );
    // Another amount under the same orderId: its claim is refused, its create lands first; its withdraw is a round trip later.
    const otherHandler = chargeHandler(
      parts,
      hookedClient({
        'key:put': { after: () => void otherRefused.open() },
        'ledger:put': { after: () => void otherCreated.open() },
        'ledger:delete': { before: () => holderAnswered.promise },
      }),
    );

    const holder = post(holderHandler, order(orderId)).finally(holderAnswered.open);
    await holderClaimed.promise; // the holder's claim has landed, its create waits
    const other = post(otherHandler, order(orderId, { amount: 999 }));
    const [holderAnswer, otherAnswer] = await Promise.all([holder, other]);
    // The withdrawal outlasted the holder's wait: it was told to retry, never refused; its retry charges.
    const holderRetry = await post(chargeHandler(parts), order(orderId));

    expect({
      holder: holderAnswer.statusCode,
      holderError: body(holderAnswer).error?.code,
      other: otherAnswer.statusCode,
      holderRetry: holderRetry.statusCode,
      ledger: await ledgerRecord(parts, orderId).then((record) => record && { status: record.status, amount: record.amount }),
      intents: parts.stripeEmulator.paymentIntentsForOrder(orderId).map((intent) => intent.amount),
    }).toEqual({
      holder: 409,
      holderError: 'idempotency_key_in_use',
      other: 422,
      holderRetry: 201,
      ledger: { status: 'charged', amount: 4200 },
      intents: [4200],
    });
  });

  it('lets the key holder charge its own order when the refused request withdraws within its wait', async () => {
    const orderId = newOrderId('holder-waits');
    const holderClaimed = gate();
    const otherCreated = gate(1_500);
    const otherRefused = gate();
    const holderHandler = chargeHandler(
      parts,
      hookedClient({
        'key:put': { after: () => void holderClaimed.open() },
        'ledger:put': { before: () => Promise.all([otherCreated.promise, otherRefused.promise]) },
      }),
    );
    const otherHandler = chargeHandler(
      parts,
      hookedClient({ 'key:put': { after: () => void otherRefused.open() }, 'ledger:put': { after: () => void otherCreated.open() } }),
    );

    const holder = post(holderHandler, order(orderId));
    await holderClaimed.promise;
    const [holderAnswer, otherAnswer] = await Promise.all([holder, post(otherHandler, order(orderId, { amount: 999 }))]);

    expect({
      holder: holderAnswer.statusCode,
      other: otherAnswer.statusCode,
      intents: parts.stripeEmulator.paymentIntentsForOrder(orderId).map((intent) => intent.amount),
      ledger: (await ledgerRecord(parts, orderId))?.amount,
    }).toEqual({ holder: 201, other: 422, intents: [4200], ledger: 4200 });
  });

  it('does not dead-letter a queued order whose orderId an API request with another amount raced', async () => {
    const orderId = newOrderId('queued-holder');
    const holderClaimed = gate();
    const otherCreated = gate(1_500); // before this commit, a refused request wrote nothing
    const otherRefused = gate();
    const workerDone = gate();
    const deadLettered: PermanentFailure[] = [];
    const worker = createChargeWorkerHandler(
      {
        charge: createChargeService(
          serviceOptions(
            parts,
            hookedClient({
              'key:put': { after: () => void holderClaimed.open() },
              'ledger:put': { before: () => Promise.all([otherCreated.promise, otherRefused.promise]) },
            }),
          ),
          'queue',
        ),
        deadLetter: async (_message, failure) => void deadLettered.push(failure),
        retryLater: async () => 1,
        sendAgainLater: async () => undefined,
      },
      silentLogger,
    );
    const otherHandler = chargeHandler(
      parts,
      hookedClient({
        'key:put': { after: () => void otherRefused.open() },
        'ledger:put': { after: () => void otherCreated.open() },
        'ledger:delete': { before: () => workerDone.promise },
      }),
    );

    const batch = worker({ Records: [sqsRecord('m-1', order(orderId))] }, lambdaContext()).finally(workerDone.open);
    await holderClaimed.promise; // the holder's claim has landed, its create waits
    const other = post(otherHandler, order(orderId, { amount: 999 }));
    const [firstDelivery] = await Promise.all([batch, other]);
    // Retried, not dead-lettered: the queue delivers it again and it is charged.
    const secondDelivery = await worker({ Records: [sqsRecord('m-1', order(orderId))] }, lambdaContext());

    expect({
      retried: firstDelivery.batchItemFailures,
      deadLettered,
      afterRedelivery: secondDelivery.batchItemFailures,
      ledger: (await ledgerRecord(parts, orderId))?.status,
      intents: parts.stripeEmulator.paymentIntentsForOrder(orderId).length,
    }).toEqual({ retried: [{ itemIdentifier: 'm-1' }], deadLettered: [], afterRedelivery: [], ledger: 'charged', intents: 1 });
  });

  it.each([
    ['its answer lost (the SDK gives up)', 'initialize' as const],
    ["its answer lost, the SDK retries (the retry finds the record it wrote and takes it for another's)", 'deserialize' as const],
  ])('is withdrawn even when the create landed with %s; the orderId is not poisoned', async (_label, step) => {
    const orderId = newOrderId(`lost-create-${step}`);
    const holderClaimed = gate();
    const otherAnswered = gate();
    let lost = false;
    const holderHandler = chargeHandler(
      parts,
      hookedClient({ 'key:put': { after: () => void holderClaimed.open() }, 'ledger:put': { before: () => otherAnswered.promise } }),
    );
    const otherHandler = chargeHandler(
      parts,
      hookedClient(
        {
          'ledger:put': {
            after: (error) => {
              if (lost || error !== undefined) return undefined;
              lost = true;
              return lostAnswer();
            },
          },
        },
        step,
      ),
    );

    const holder = post(holderHandler, order(orderId));
    await holderClaimed.promise; // the holder's claim has landed, its create waits
    const otherAnswer = await post(otherHandler, order(orderId, { amount: 999 }));
    const afterTheRefusal = await ledgerRecord(parts, orderId);
    otherAnswered.open();
    const holderAnswer = await holder;

    // Nobody retries for a while: the reconciler settles what is pending; then both clients retry.
    await backdateLedger(parts, orderId, 'attemptAt', 10).catch(() => undefined);
    await reconcile();
    const holderRetry = await post(chargeHandler(parts), order(orderId));
    const otherRetry = await post(chargeHandler(parts), order(orderId, { amount: 999 }));

    expect({
      other: otherAnswer.statusCode,
      afterTheRefusal: afterTheRefusal && { status: afterTheRefusal.status, amount: afterTheRefusal.amount },
      holder: holderAnswer.statusCode,
      holderRetry: holderRetry.statusCode,
      otherRetry: otherRetry.statusCode,
      charged: parts.stripeEmulator.paymentIntentsForOrder(orderId).map((intent) => intent.amount),
    }).toEqual({ other: 422, afterTheRefusal: undefined, holder: 201, holderRetry: 200, otherRetry: 422, charged: [4200] });
  });

  it.each([
    ['once (the SDK retries it)', 'deserialize' as const, { afterTheRefusal: undefined, holder: 201 }],
    // The one state left behind: the holder is told to retry until the reconciler expires that record; then the orderId is the other's.
    ['on every try', 'initialize' as const, { afterTheRefusal: 999, holder: 409 }],
  ])('answers 422 to the refused request when its withdrawal is throttled %s', async (_label, step, expected) => {
    const orderId = newOrderId(`withdraw-throttled-${step}`);
    const holderClaimed = gate();
    const otherAnswered = gate();
    let throttledOnce = false;
    const throttled = () => Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException', $metadata: {} });
    const holderHandler = chargeHandler(
      parts,
      hookedClient({ 'key:put': { after: () => void holderClaimed.open() }, 'ledger:put': { before: () => otherAnswered.promise } }),
    );
    const otherHandler = chargeHandler(
      parts,
      hookedClient(
        {
          'ledger:delete': {
            before: async () => {
              if (step === 'initialize' || !throttledOnce) {
                throttledOnce = true;
                throw throttled();
              }
            },
          },
        },
        step,
      ),
    );

    const holder = post(holderHandler, order(orderId));
    await holderClaimed.promise; // the holder's claim has landed, its create waits
    const otherAnswer = await post(otherHandler, order(orderId, { amount: 999 }));
    const afterTheRefusal = await ledgerRecord(parts, orderId);
    otherAnswered.open();
    const holderAnswer = await holder;

    expect({ other: otherAnswer.statusCode, afterTheRefusal: afterTheRefusal?.amount, holder: holderAnswer.statusCode }).toEqual({ other: 422, ...expected });
    expect(parts.stripeEmulator.paymentIntentsForOrder(orderId).length).toBeLessThanOrEqual(1);
  });
});

describe("a concurrent duplicate's ledger create, sent with its claim", () => {
  it.each([
    ['withdrawn before the holder takes it up: the holder writes its own', 'withdrawn first' as const],
    ['taken up by the holder first: the withdrawal finds another attempt and leaves it', 'taken up first' as const],
  ])('created first, is %s; one charge', async (_label, order_) => {
    const orderId = newOrderId(`duplicate-${order_.replace(/ /g, '-')}`);
    const holderClaimed = gate();
    const duplicateCreated = gate(1_500);
    const duplicateAnswered = gate();
    const holderAnswered = gate();
    const holderHandler = chargeHandler(
      parts,
      hookedClient({
        'key:put': { after: () => void holderClaimed.open() },
        'ledger:put': { before: () => duplicateCreated.promise },
        // The take-up (markAttempt) waits for the duplicate's withdrawal in one order; the withdrawal waits for the holder in the other.
        ...(order_ === 'withdrawn first' && { 'ledger:update': { before: () => duplicateAnswered.promise } }),
      }),
    );
    const duplicateHandler = chargeHandler(
      parts,
      hookedClient({
        'ledger:put': { after: () => void duplicateCreated.open() },
        ...(order_ === 'taken up first' && { 'ledger:delete': { before: () => holderAnswered.promise } }),
      }),
    );

    const holder = post(holderHandler, order(orderId)).finally(holderAnswered.open);
    await holderClaimed.promise;
    const duplicate = post(duplicateHandler, order(orderId)).finally(duplicateAnswered.open);
    const [holderAnswer, duplicateAnswer] = await Promise.all([holder, duplicate]);

    expect({
      holder: holderAnswer.statusCode,
      duplicate: duplicateAnswer.statusCode,
      ledger: (await ledgerRecord(parts, orderId))?.status,
      intents: parts.stripeEmulator.paymentIntentsForOrder(orderId).length,
    }).toEqual({ holder: 201, duplicate: 409, ledger: 'charged', intents: 1 });
  });

  it("with other fields (description, receipt email), landing first, is waited out: Stripe gets the key holder's own", async () => {
    const orderId = newOrderId('duplicate-other-fields');
    const holderClaimed = gate();
    const duplicateCreated = gate(1_500);
    // The same payment to Powertools (amount, currency, method), but not the same request: it never runs.
    const holderOrder = order(orderId, { receiptEmail: 'holder@example.com', description: 'holder description' });
    const holderHandler = chargeHandler(
      parts,
      hookedClient({ 'key:put': { after: () => void holderClaimed.open() }, 'ledger:put': { before: () => duplicateCreated.promise } }),
    );
    // Its withdrawal comes 100 ms after its refusal: within the holder's wait, after its take-up would have been.
    const duplicateHandler = chargeHandler(
      parts,
      hookedClient({
        'ledger:put': { after: () => void duplicateCreated.open() },
        'ledger:delete': { before: () => new Promise((resolve) => setTimeout(resolve, 100)) },
      }),
    );

    const holder = post(holderHandler, holderOrder);
    await holderClaimed.promise;
    const [duplicateAnswer, holderAnswer] = await Promise.all([post(duplicateHandler, order(orderId, { description: 'duplicate description' })), holder]);

    const intents = parts.stripeEmulator.paymentIntentsForOrder(orderId) as unknown as { receipt_email: string | null; description: string | null }[];
    expect({
      holder: holderAnswer.statusCode,
      duplicate: duplicateAnswer.statusCode,
      sent: intents.map((intent) => ({ receiptEmail: intent.receipt_email, description: intent.description })),
    }).toEqual({ holder: 201, duplicate: 409, sent: [{ receiptEmail: 'holder@example.com', description: 'holder description' }] });
  });

  it("landing late (throttled, retried) after the holder's payment was refused by Stripe and freed, does not block the corrected request", async () => {
    const orderId = newOrderId('late-duplicate-create');
    const holderClaimed = gate();
    const duplicateRefused = gate();
    const holderAnswered = gate();
    // The holder: a payment method Stripe refuses (400, the record freed for a corrected request).
    const holderHandler = chargeHandler(
      parts,
      hookedClient({ 'key:put': { after: () => void holderClaimed.open() }, 'ledger:put': { before: () => duplicateRefused.promise } }),
    );
    // The client sends it twice: the duplicate's claim is refused (in progress); its create is slow.
    const duplicateHandler = chargeHandler(
      parts,
      hookedClient({ 'key:put': { after: () => void duplicateRefused.open() }, 'ledger:put': { before: () => holderAnswered.promise } }),
    );

    const holder = post(holderHandler, order(orderId, { paymentMethod: 'pm_card_doesNotExist' })).finally(holderAnswered.open);
    await holderClaimed.promise;
    const duplicate = post(duplicateHandler, order(orderId, { paymentMethod: 'pm_card_doesNotExist' }));
    const [holderAnswer, duplicateAnswer] = await Promise.all([holder, duplicate]);
    const afterBoth = await ledgerRecord(parts, orderId);

    // As documented: Stripe charged and kept nothing, so a corrected request with the same orderId goes through.
    const corrected = await post(chargeHandler(parts), order(orderId));

    expect({
      holder: holderAnswer.statusCode,
      duplicate: duplicateAnswer.statusCode,
      afterBoth: afterBoth && { status: afterBoth.status, paymentMethod: afterBoth.paymentMethod },
      corrected: corrected.statusCode,
    }).toEqual({ holder: 400, duplicate: 409, afterBoth: undefined, corrected: 201 });
  });

  it('created first, does not make the holder send the personal data of an earlier request Stripe refused', async () => {
    const orderId = newOrderId('stale-personal-data');
    const holderClaimed = gate();
    // A first request Stripe refuses: its record is freed, its receipt email stays kept in the key table.
    const refused = await post(chargeHandler(parts), order(orderId, { paymentMethod: 'pm_card_doesNotExist', receiptEmail: 'old.owner@example.com' }));
    expect(refused.statusCode).toBe(400);

    // The corrected request, sent twice: the duplicate's create (sent with its refused claim) lands before the holder's.
    const duplicateCreated = gate(1_500); // before this commit, a refused duplicate wrote nothing
    const corrected = order(orderId, { receiptEmail: 'new.owner@example.com' });
    const holderHandler = chargeHandler(
      parts,
      hookedClient({ 'key:put': { after: () => void holderClaimed.open() }, 'ledger:put': { before: () => duplicateCreated.promise } }),
    );
    const duplicateHandler = chargeHandler(parts, hookedClient({ 'ledger:put': { after: () => void duplicateCreated.open() } }));
    const holder = post(holderHandler, corrected);
    await holderClaimed.promise; // the holder's claim has landed, its create waits
    const duplicateAnswer = await post(duplicateHandler, corrected);
    const holderAnswer = await holder;

    const intents = parts.stripeEmulator.paymentIntentsForOrder(orderId);
    expect({
      holder: holderAnswer.statusCode,
      duplicate: duplicateAnswer.statusCode,
      receiptEmails: intents.map((intent) => (intent as unknown as { receipt_email: string | null }).receipt_email),
    }).toEqual({ holder: 201, duplicate: 409, receiptEmails: ['new.owner@example.com'] });
  });
});
