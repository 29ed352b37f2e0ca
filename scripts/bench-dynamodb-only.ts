/** The cold-start bench's reference: a handler that only creates a DynamoDB client, and answers with one read of the key table. */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ENV } from '../lambdas/contract/environment';
import { idempotencyTable } from '../lambdas/contract/tables';

const client = new DynamoDBClient({});

export const handler = async () => {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: process.env[ENV.idempotencyTableName], Key: { [idempotencyTable.partitionKey]: { S: 'none' } } }),
  );
  return { found: Item !== undefined };
};
