import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/adapters/stripe-payments';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import type { TableNames } from '../../local/tables';

/** The steps of a charge, in order. */
export const STEPS = ['claim key', 'ledger create', 'Stripe call', 'ledger finalize', 'key complete'] as const;
export type Step = (typeof STEPS)[number];

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

/** A crash: the call never returns, so nothing after it runs (the Lambda is gone). */
const never = () => new Promise<never>(() => undefined);
const lost = (what: string) => Object.assign(new Error(`${what}: the connection was reset`), { name: 'TimeoutError', code: 'ECONNRESET', $metadata: {} });

/** Runs `call` with the fault, if it is armed: returns its result, throws, or never returns. */
async function withFault<T>(kind: FaultKind, call: () => Promise<T>, what: string): Promise<T> {
  if (kind === 'crashes before') return never();
  if (kind === 'fails before') throw Object.assign(new Error(`${what}: refused`), { name: 'ProvisionedThroughputExceededException', code: 'ECONNREFUSED', $metadata: {} });
  await call();
  if (kind === 'crashes after') return never();
  throw lost(what);
}

/** The DynamoDB request each DynamoDB step makes (the document client's and the plain command names). */
function dynamoDbStep(commandName: string, tableName: string, tables: TableNames): Step | undefined {
  const put = commandName === 'PutItemCommand' || commandName === 'PutCommand';
  const update = commandName === 'UpdateItemCommand' || commandName === 'UpdateCommand';
  if (tableName === tables.idempotencyTableName) return put ? 'claim key' : update ? 'key complete' : undefined;
  if (tableName === tables.ledgerTableName) return put ? 'ledger create' : update ? 'ledger finalize' : undefined;
  return undefined;
}

/** A real DynamoDB client whose first request of the faulty step meets the fault; every other request goes through. */
export function faultyDynamoDb(endpoint: string, tables: TableNames, fault: Fault): DynamoDBClient {
  const client = localDynamoDbClient(endpoint);
  let armed = fault.step !== 'Stripe call';
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string };
      if (!armed || dynamoDbStep(context.commandName ?? '', input.TableName ?? '', tables) !== fault.step) return next(args);
      armed = false;
      return withFault(fault.kind, () => next(args), fault.step);
    },
    { step: 'initialize', name: 'injectFault' },
  );
  return client;
}

/**
 * The real Stripe SDK over real HTTP, whose PaymentIntent creations meet the fault: a failure
 * lasts for the SDK's try and both its retries (a one-off would be hidden by them), a crash
 * happens once. Every other request goes through.
 */
export function faultyStripe(apiKey: string, apiBase: string, fault: Fault | undefined): Stripe {
  const inner = Stripe.createNodeHttpClient();
  let armed = fault?.step !== 'Stripe call' ? 0 : fault.kind.startsWith('fails') ? 3 : 1;
  class FaultyHttpClient extends Stripe.HttpClient {
    override getClientName() {
      return inner.getClientName();
    }
    override makeRequest(...args: Parameters<Stripe.HttpClient['makeRequest']>) {
      const [, , path, method] = args;
      if (armed === 0 || method !== 'POST' || path !== '/v1/payment_intents') return inner.makeRequest(...args);
      armed -= 1;
      return withFault((fault as Fault).kind, () => inner.makeRequest(...args).then((response) => response.toJSON()), 'Stripe call') as never;
    }
  }
  return createStripeClient(apiKey, apiBase, new FaultyHttpClient());
}
