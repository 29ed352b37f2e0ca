import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { stripeIdempotencyKey } from '../contract/payment-metadata';
import { IDEMPOTENCY_EXPIRY_SECONDS } from '../contract/settings';
import { idempotencyTable } from '../contract/tables';
import type { PersonalDataStore } from '../core/charge-order';
import { StoreUnavailableError } from '../core/errors';
import type { PersonalData } from '../core/stripe-requests';

/**
 * An order's personal data in the key table, one item per order under its own prefix, expiring
 * with Stripe's idempotency key (24 h, the table's TTL): a resume within the day sends exactly
 * what the first attempt did; after it, Stripe has forgotten the key too, and the order is looked
 * up before it is charged again (charge-order.ts).
 */
export function createPersonalDataStore(client: DynamoDBClient, tableName: string): PersonalDataStore {
  const documents = DynamoDBDocumentClient.from(client);
  const { partitionKey, timeToLiveAttribute = 'expiration' } = idempotencyTable;
  return {
    async keep(namespace, orderId, data) {
      const now = Math.floor(Date.now() / 1000);
      try {
        await documents.send(
          new PutCommand({
            TableName: tableName,
            Item: { [partitionKey]: `personalData#${stripeIdempotencyKey(namespace, orderId)}`, data, [timeToLiveAttribute]: now + IDEMPOTENCY_EXPIRY_SECONDS },
            // First wins; an item past its expiry that DynamoDB has not deleted yet counts as gone.
            ConditionExpression: 'attribute_not_exists(#key) OR #expiry < :now',
            ExpressionAttributeNames: { '#key': partitionKey, '#expiry': timeToLiveAttribute },
            ExpressionAttributeValues: { ':now': now },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return data;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException && error.Item) return unmarshall(error.Item).data as PersonalData;
        throw new StoreUnavailableError('could not keep the personal data of the order', { cause: error });
      }
    },
  };
}
