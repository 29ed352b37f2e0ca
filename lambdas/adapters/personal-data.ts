import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { stripeIdempotencyKey } from '../contract/payment-metadata';
import { PERSONAL_DATA_EXPIRY_SECONDS } from '../contract/settings';
import { idempotencyTable, PERSONAL_DATA_KEY_PREFIX } from '../contract/tables';
import type { PersonalDataStore } from '../core/charge-order';
import { StoreUnavailableError } from '../core/errors';
import type { PersonalData } from '../core/stripe-requests';

/**
 * An order's personal data in the key table, one item per order under its own prefix, expiring
 * (the table's TTL) well after Stripe's idempotency key: every resume while Stripe may still hold
 * the key sends exactly what the first attempt did.
 */
export function createPersonalDataStore(client: DynamoDBClient, tableName: string): PersonalDataStore {
  const documents = DynamoDBDocumentClient.from(client);
  const { partitionKey, timeToLiveAttribute = 'expiration' } = idempotencyTable;
  const keyOf = (namespace: string, orderId: string) => ({ [partitionKey]: `${PERSONAL_DATA_KEY_PREFIX}${stripeIdempotencyKey(namespace, orderId)}` });
  return {
    async keep(namespace, orderId, data, replacing) {
      const expiry = Math.floor(Date.now() / 1000) + PERSONAL_DATA_EXPIRY_SECONDS;
      const item = { ...keyOf(namespace, orderId), data, [timeToLiveAttribute]: expiry };
      // First wins, until DynamoDB deletes the item: an expired one is still what Stripe may hold.
      const firstWins = {
        ConditionExpression: 'attribute_not_exists(#key)',
        ExpressionAttributeNames: { '#key': partitionKey },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      };
      try {
        await documents.send(new PutCommand({ TableName: tableName, Item: item, ...(!replacing && firstWins) }));
        return data;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException && error.Item) return unmarshall(error.Item).data as PersonalData;
        throw new StoreUnavailableError('could not keep the personal data of the order', { cause: error });
      }
    },

    async forget(namespace, orderId) {
      try {
        await documents.send(new DeleteCommand({ TableName: tableName, Key: keyOf(namespace, orderId) }));
      } catch (error) {
        throw new StoreUnavailableError('could not forget the personal data of the order', { cause: error });
      }
    },
  };
}
