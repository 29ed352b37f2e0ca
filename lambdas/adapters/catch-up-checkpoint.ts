import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { EVENTS_CATCH_UP_CHECKPOINT_KEY } from '../contract/settings';
import { idempotencyTable } from '../contract/tables';
import type { CatchUpCheckpoint } from '../core/catch-up-events';
import { StoreUnavailableError } from '../core/errors';

/** The catch-up's checkpoint: one item of the key table, without an expiry, moved forward only. */
export function createCatchUpCheckpoint(client: DynamoDBClient, tableName: string): CatchUpCheckpoint {
  const documents = DynamoDBDocumentClient.from(client);
  const Key = { [idempotencyTable.partitionKey]: EVENTS_CATCH_UP_CHECKPOINT_KEY };
  return {
    async read() {
      try {
        const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }));
        return Item?.checkpoint as number | undefined;
      } catch (error) {
        throw new StoreUnavailableError('could not read the catch-up checkpoint', { cause: error });
      }
    },
    async advance(seconds) {
      try {
        await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key,
            UpdateExpression: 'SET checkpoint = :seconds',
            ConditionExpression: 'attribute_not_exists(checkpoint) OR checkpoint < :seconds',
            ExpressionAttributeValues: { ':seconds': seconds },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return; // a later run already moved it further
        throw new StoreUnavailableError('could not write the catch-up checkpoint', { cause: error });
      }
    },
  };
}
