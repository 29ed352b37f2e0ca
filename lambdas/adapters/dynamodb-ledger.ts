import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { ChargeRequest } from '../contract/payment-request';
import { ledgerTable } from '../contract/tables';
import type { LedgerFact, LedgerRecord, PaymentsLedger } from '../core/charge-order';
import type { PaymentStatusUpdate } from '../core/payment-events';
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
        origin: 'charge',
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

    async finalize(orderId: string, fact: LedgerFact, now: string) {
      const update = setExpression({ ...fact, updatedAt: now });
      try {
        // Only a pending record moves: a final state is never overwritten by a late or repeated attempt.
        const { Attributes } = await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [key]: orderId },
            ...update,
            ConditionExpression: '#status = :pending',
            ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':pending': 'pending' },
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

/**
 * Writes a Stripe webhook fact as a forward-only upsert: it lands only if the record holds no
 * newer fact (a higher version), and creates the record if the ledger has not seen the order, so a
 * later charge answer (which only moves a pending record) cannot overwrite it.
 */
export function createLedgerFactWriter(client: DynamoDBClient, tableName: string, now: () => Date = () => new Date()) {
  const documents = DynamoDBDocumentClient.from(client);
  return async (update: PaymentStatusUpdate & { orderId: string }): Promise<'applied' | 'stale' | 'conflict'> => {
    const { orderId, version, eventId, amount, currency, ours: _ours, ...fact } = update;
    const at = now().toISOString();
    try {
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [ledgerTable.partitionKey]: orderId },
          ...setExpression(
            { ...fact, factVersion: version, lastEventId: eventId, updatedAt: at },
            { amount, currency, createdAt: at, origin: 'webhook' },
          ),
          // Newer than what the record holds, and about the order's own PaymentIntent.
          ConditionExpression:
            '(attribute_not_exists(#factVersion) OR #factVersion < :factVersion) AND (attribute_not_exists(#paymentId) OR #paymentId = :paymentId)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'applied';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storeError('write the webhook fact', error);
      const current = error.Item && (unmarshall(error.Item) as LedgerRecord);
      return current?.paymentId !== undefined && current.paymentId !== fact.paymentId ? 'conflict' : 'stale';
    }
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

type Fields = Record<string, string | number | undefined>;

/**
 * `SET #a = :a, …` for the fields that have a value (DynamoDB cannot SET undefined), plus
 * `#b = if_not_exists(#b, :b)` for those only a new record takes. Each name is `#name`, each value `:name`.
 */
function setExpression(fields: Fields, whenNew: Fields = {}) {
  const defined = (values: Fields) => Object.entries(values).filter(([, value]) => value !== undefined);
  const set = defined(fields).map(([name]) => `#${name} = :${name}`);
  const keep = defined(whenNew).map(([name]) => `#${name} = if_not_exists(#${name}, :${name})`);
  const all = [...defined(fields), ...defined(whenNew)];
  return {
    UpdateExpression: `SET ${[...set, ...keep].join(', ')}`,
    ExpressionAttributeNames: Object.fromEntries(all.map(([name]) => [`#${name}`, name])),
    ExpressionAttributeValues: Object.fromEntries(all.map(([name, value]) => [`:${name}`, value])),
  };
}

function storeError(action: string, cause: unknown): StoreUnavailableError {
  return new StoreUnavailableError(`could not ${action}`, { cause });
}
