import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/adapters/stripe-payments';
import { idempotencyTable, PERSONAL_DATA_KEY_PREFIX } from '../../lambdas/contract/tables';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import type { TableNames } from '../../local/tables';

/** The steps of a charge, in order; `keep personal data` only for an order that has some. */
export const STEPS = ['claim key', 'ledger create', 'keep personal data', 'Stripe call', 'ledger finalize', 'key complete'] as const;
/** The steps of a refund, in order: its ledger writes are the reservation, then Stripe's answer. */
export const REFUND_STEPS = ['claim key', 'ledger reserve', 'Stripe call', 'ledger record', 'key complete'] as const;
export type Step = (typeof STEPS)[number] | (typeof REFUND_STEPS)[number];
/** Which use case a faulty client serves: the requests each step makes differ. */
export type FaultyPath = 'charge' | 'refund';

/**
 * What goes wrong at a step: it fails before taking effect (refused), or after (done, the answer
 * lost); or the process crashes before it is sent, or after it took effect (nothing after it runs).
 */
export const FAULT_KINDS = ['fails before', 'fails after', 'crashes before', 'crashes after'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  step: Step;
  kind: FaultKind;
}

/** Asked before every request a step makes: the fault it meets, if any. */
export type FaultPlan = (step: Step) => FaultKind | undefined;

/**
 * One fault, once: the first request of its step meets it. A Stripe failure lasts for the SDK's
 * try and both its retries (a one-off would be hidden by them). `struck()` says how often it did.
 */
export function faultOnce({ step, kind }: Fault): FaultPlan & { struck(): number } {
  const times = step === 'Stripe call' && kind.startsWith('fails') ? 3 : 1;
  let left = times;
  const plan = (at: Step) => {
    if (at !== step || left === 0) return undefined;
    left -= 1;
    return kind;
  };
  return Object.assign(plan, { struck: () => times - left });
}

/** Any fault at any step, with this probability per request. */
export function randomFaults(probability: number, random: () => number = Math.random): FaultPlan {
  return () => (random() < probability ? FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)] : undefined);
}

/** A crash: the call never returns, so nothing after it runs (the Lambda is gone). */
const never = () => new Promise<never>(() => undefined);
const lost = (what: string) => Object.assign(new Error(`${what}: the connection was reset`), { name: 'TimeoutError', code: 'ECONNRESET', $metadata: {} });

/** Runs `call` with the fault, if it is armed: returns its result, throws, or never returns. */
async function withFault<T>(kind: FaultKind, call: () => Promise<T>, what: string): Promise<T> {
  if (kind === 'crashes before') return never();
  if (kind === 'fails before')
    throw Object.assign(new Error(`${what}: refused`), { name: 'ProvisionedThroughputExceededException', code: 'ECONNREFUSED', $metadata: {} });
  await call();
  if (kind === 'crashes after') return never();
  throw lost(what);
}

/**
 * The DynamoDB request each DynamoDB step makes (the document client's and the plain command
 * names). A refund's first ledger update is its reservation, every later one records an answer.
 */
function dynamoDbSteps(tables: TableNames, path: FaultyPath) {
  let ledgerUpdates = 0;
  return (commandName: string, tableName: string, itemKey: string): Step | undefined => {
    const put = commandName === 'PutItemCommand' || commandName === 'PutCommand';
    const update = commandName === 'UpdateItemCommand' || commandName === 'UpdateCommand';
    if (tableName === tables.idempotencyTableName) {
      if (put && itemKey.startsWith(PERSONAL_DATA_KEY_PREFIX)) return 'keep personal data';
      return put ? 'claim key' : update ? 'key complete' : undefined;
    }
    if (tableName !== tables.ledgerTableName) return undefined;
    if (path === 'charge') return put ? 'ledger create' : update ? 'ledger finalize' : undefined;
    if (!update) return undefined;
    ledgerUpdates += 1;
    return ledgerUpdates === 1 ? 'ledger reserve' : 'ledger record';
  };
}

/** A real DynamoDB client whose requests of each DynamoDB step meet what the plan says. */
export function faultyDynamoDb(endpoint: string, tables: TableNames, plan: FaultPlan, path: FaultyPath = 'charge'): DynamoDBClient {
  const client = localDynamoDbClient(endpoint);
  const stepOf = dynamoDbSteps(tables, path);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string; Item?: Record<string, { S?: string } | string> };
      const key = input.Item?.[idempotencyTable.partitionKey];
      const step = stepOf(context.commandName ?? '', input.TableName ?? '', (typeof key === 'string' ? key : key?.S) ?? '');
      const kind = step && plan(step);
      return kind ? withFault(kind, () => next(args), step) : next(args);
    },
    { step: 'initialize', name: 'injectFault' },
  );
  return client;
}

/** A create request as it left for Stripe: the form-encoded body, byte for byte, and its idempotency key. */
export interface SentCreate {
  body: string;
  idempotencyKey: string;
}

/**
 * The real Stripe SDK over real HTTP, whose PaymentIntent (or refund) creations meet what the plan
 * says; `sent` is told of each creation as it goes out.
 */
export function faultyStripe(apiKey: string, apiBase: string, plan: FaultPlan, path: FaultyPath = 'charge', sent?: (create: SentCreate) => void): Stripe {
  const created = path === 'charge' ? '/v1/payment_intents' : '/v1/refunds';
  const inner = Stripe.createNodeHttpClient();
  class FaultyHttpClient extends Stripe.HttpClient {
    override getClientName() {
      return inner.getClientName();
    }
    override makeRequest(...args: Parameters<Stripe.HttpClient['makeRequest']>) {
      const [, , requestPath, method, headers, body] = args;
      const creation = method === 'POST' && requestPath === created;
      if (creation) sent?.({ body: body ?? '', idempotencyKey: String(headers['Idempotency-Key'] ?? '') });
      const kind = creation ? plan('Stripe call') : undefined;
      if (kind === undefined) return inner.makeRequest(...args);
      return withFault(kind, () => inner.makeRequest(...args).then((response) => response.toJSON()), 'Stripe call') as never;
    }
  }
  return createStripeClient(apiKey, apiBase, new FaultyHttpClient());
}
