import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { ChargeRequest } from '../contract/payment-request';
import { ledgerTable } from '../contract/tables';
import type { LedgerRecord, PaymentAttempt, PaymentsLedger } from '../core/charge-order';
import { StoreUnavailableError } from '../core/errors';

/** The payments ledger in DynamoDB: the order's permanent record, keyed on orderId. */
export function createDynamoDbLedger(client: DynamoDBClient, tableName: string): PaymentsLedger {
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const key = ledgerTable.partitionKey;

  return {
    async createPendingOrGet(order: ChargeRequest, now: string) {
      const pending: LedgerRecord = {
        orderId: order.orderId,
        status: 'pending',
        amount: order.amount,
        currency: order.currency,
        paymentMethod: order.paymentMethod,
        customerId: order.customerId,
        description: order.description,
        createdAt: now,
        updatedAt: now,
      };
      try {
        // Unique constraint and check-before-write in one request: the old item comes back on conflict.
        await documents.send(
          new PutCommand({
            TableName: tableName,
            Item: pending,
            ConditionExpression: 'attribute_not_exists(#key)',
            ExpressionAttributeNames: { '#key': key },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return undefined;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException && error.Item) return unmarshall(error.Item) as LedgerRecord;
        throw storeError('create the ledger record', error);
      }
    },

    async finalize(orderId: string, attempt: PaymentAttempt, now: string) {
      const fields: Record<string, string> = { status: attempt.status, updatedAt: now };
      if (attempt.paymentId !== undefined) fields.paymentId = attempt.paymentId;
      if (attempt.paymentStatus !== undefined) fields.paymentStatus = attempt.paymentStatus;
      if (attempt.declineCode !== undefined) fields.declineCode = attempt.declineCode;
      const names = Object.keys(fields);
      try {
        // Only a pending record moves: a final state is never overwritten by a late or repeated attempt.
        const { Attributes } = await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [key]: orderId },
            UpdateExpression: `SET ${names.map((name) => `#${name} = :${name}`).join(', ')}`,
            ConditionExpression: '#status = :pending',
            ExpressionAttributeNames: Object.fromEntries(names.map((name) => [`#${name}`, name])),
            ExpressionAttributeValues: {
              ...Object.fromEntries(names.map((name) => [`:${name}`, fields[name]])),
              ':pending': 'pending',
            },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return Attributes as LedgerRecord;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException && error.Item) return unmarshall(error.Item) as LedgerRecord;
        throw storeError('finalize the ledger record', error);
      }
    },

    async releasePending(orderId: string) {
      try {
        await documents.send(
          new DeleteCommand({
            TableName: tableName,
            Key: { [key]: orderId },
            ConditionExpression: '#status = :pending',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':pending': 'pending' },
          }),
        );
      } catch (error) {
        // Already final or gone: there is nothing pending to release.
        if (error instanceof ConditionalCheckFailedException) return;
        throw storeError('release the ledger record', error);
      }
    },
  };
}

/** Reads one order's ledger record (strongly consistent: a client polling after a 202 sees the latest). */
export function createLedgerReader(client: DynamoDBClient, tableName: string) {
  const documents = DynamoDBDocumentClient.from(client);
  return async (orderId: string): Promise<LedgerRecord | undefined> => {
    try {
      const { Item } = await documents.send(
        new GetCommand({ TableName: tableName, Key: { [ledgerTable.partitionKey]: orderId }, ConsistentRead: true }),
      );
      return Item as LedgerRecord | undefined;
    } catch (error) {
      throw storeError('read the ledger record', error);
    }
  };
}

export type LedgerReader = ReturnType<typeof createLedgerReader>;

function storeError(action: string, cause: unknown): StoreUnavailableError {
  return new StoreUnavailableError(`could not ${action}`, { cause });
}
