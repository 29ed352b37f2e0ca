import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteItemCommand, type DynamoDBClient, GetItemCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type Stripe from 'stripe';
import { type ChargeServiceOptions, createChargeService, createRefundService } from '../../lambdas/adapters/charge-service';
import { createStripeClient } from '../../lambdas/adapters/stripe-payments';
import { stripeIdempotencyKey } from '../../lambdas/contract/payment-metadata';
import { IDEMPOTENCY_KEY_PREFIX } from '../../lambdas/contract/settings';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import type { ApiHandler } from '../../lambdas/handlers/http-responses';
import { createRefundPaymentHandler } from '../../lambdas/handlers/refund-payment';
import { type DynamoDbLocal, localDynamoDbClient, startDynamoDbLocal } from '../../local/dynamodb-local';
import { lambdaContext } from '../../local/lambda-context';
import { type StripeEmulator, startStripeEmulator } from '../../local/stripe-emulator/stripe-emulator';
import { createTables, localTableNames, type TableNames } from '../../local/tables';

export const silentLogger = new Logger({ logLevel: 'SILENT' });
/** The deployment namespace the test services run in. */
export const TEST_NAMESPACE = 'test';

/** Real DynamoDB Local and the Stripe emulator for one test file, with fresh tables. */
export interface LocalParts {
  dynamoDbLocal: DynamoDbLocal;
  dynamoDb: DynamoDBClient;
  tables: TableNames;
  stripeEmulator: StripeEmulator;
  stripe: Stripe;
  stop(): Promise<void>;
}

export async function startLocalParts(): Promise<LocalParts> {
  const [dynamoDbLocal, stripeEmulator] = await Promise.all([startDynamoDbLocal(), startStripeEmulator()]);
  const dynamoDb = localDynamoDbClient(dynamoDbLocal.endpoint);
  const tables = localTableNames(`t${randomUUID().slice(0, 8)}-`);
  await createTables(dynamoDb, tables);
  return {
    dynamoDbLocal,
    dynamoDb,
    tables,
    stripeEmulator,
    stripe: createStripeClient(stripeEmulator.apiKey, stripeEmulator.url),
    async stop() {
      dynamoDb.destroy();
      await Promise.all([dynamoDbLocal.stop(), stripeEmulator.stop()]);
    },
  };
}

/** The charge handler wired exactly as in Lambda, against the local parts. */
export function chargeHandler(parts: LocalParts, dynamoDb: DynamoDBClient = parts.dynamoDb): ApiHandler {
  const charge = createChargeService(serviceOptions(parts, dynamoDb), 'api');
  return createChargePaymentHandler(charge, silentLogger);
}

/** The refund handler wired exactly as in Lambda, against the local parts. */
export function refundHandler(parts: LocalParts, dynamoDb: DynamoDBClient = parts.dynamoDb): ApiHandler {
  return createRefundPaymentHandler(createRefundService(serviceOptions(parts, dynamoDb)), silentLogger);
}

/** POST /payments/{orderId}/refunds as API Gateway hands it over. */
export function refundEvent(orderId: string, body: unknown): APIGatewayProxyEvent {
  return { ...postEvent(body), resource: '/payments/{orderId}/refunds', path: `/payments/${orderId}/refunds`, pathParameters: { orderId } };
}

/** What the charge service and the webhook handling are wired with, against the local parts. */
export function serviceOptions(parts: LocalParts, dynamoDb: DynamoDBClient = parts.dynamoDb, namespace = TEST_NAMESPACE): ChargeServiceOptions {
  return { dynamoDb, ...parts.tables, stripe: async () => parts.stripe, namespace };
}

export function postEvent(body: unknown): APIGatewayProxyEvent {
  return {
    resource: '/payments',
    path: '/payments',
    httpMethod: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEvent;
}

export function post(handler: ApiHandler, body: unknown): Promise<APIGatewayProxyResult> {
  return handler(postEvent(body), lambdaContext());
}

export async function ledgerRecord(parts: LocalParts, orderId: string): Promise<LedgerRecord | undefined> {
  const { Item } = await parts.dynamoDb.send(
    new GetItemCommand({ TableName: parts.tables.ledgerTableName, Key: { orderId: { S: orderId } }, ConsistentRead: true }),
  );
  return Item && (unmarshall(Item) as LedgerRecord);
}

/** Overwrites one text field of a ledger record, as a bug or a person at the console might. */
export async function setLedgerField(parts: LocalParts, orderId: string, field: string, value: string): Promise<void> {
  await parts.dynamoDb.send(
    new UpdateItemCommand({
      TableName: parts.tables.ledgerTableName,
      Key: { orderId: { S: orderId } },
      UpdateExpression: 'SET #field = :value',
      ExpressionAttributeNames: { '#field': field },
      ExpressionAttributeValues: { ':value': { S: value } },
    }),
  );
}

/** Moves a ledger time back, as if the order had been created, or last attempted, this many minutes ago. */
export function backdateLedger(parts: LocalParts, orderId: string, field: 'createdAt' | 'attemptAt', minutesAgo: number): Promise<void> {
  return setLedgerField(parts, orderId, field, new Date(Date.now() - minutesAgo * 60_000).toISOString());
}

export async function ledgerSize(parts: LocalParts): Promise<number> {
  const { Count = 0 } = await parts.dynamoDb.send(new ScanCommand({ TableName: parts.tables.ledgerTableName, Select: 'COUNT', ConsistentRead: true }));
  return Count;
}

/** Deletes every key-table record of this run (the charges', or those of another prefix), as the TTL would after 24 hours. */
export async function forgetIdempotencyKeys(parts: LocalParts, prefix = IDEMPOTENCY_KEY_PREFIX): Promise<number> {
  const { Items = [] } = await parts.dynamoDb.send(new ScanCommand({ TableName: parts.tables.idempotencyTableName }));
  const ours = Items.filter((item) => item.id?.S?.startsWith(`${prefix}#`));
  for (const item of ours) {
    await parts.dynamoDb.send(new DeleteItemCommand({ TableName: parts.tables.idempotencyTableName, Key: { id: item.id } }));
  }
  return ours.length;
}

export function stripeRequestsFor(parts: LocalParts, orderId: string, namespace = TEST_NAMESPACE): number {
  return parts.stripeEmulator.stats().requestsByIdempotencyKey[stripeIdempotencyKey(namespace, orderId)] ?? 0;
}

let counter = 0;
/** A fresh orderId per test, so tests sharing the tables never see each other's orders. */
export const newOrderId = (label: string) => {
  counter += 1;
  return `${label}-${Date.now()}-${counter}`;
};
