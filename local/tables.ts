import { CreateTableCommand, type DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { idempotencyTable, ledgerTable, type TableDefinition } from '../lambdas/contract/tables';

export interface TableNames {
  idempotencyTableName: string;
  ledgerTableName: string;
}

/** Local table names; a prefix keeps test suites sharing one DynamoDB Local apart. */
export function localTableNames(prefix = ''): TableNames {
  return {
    idempotencyTableName: `${prefix}${idempotencyTable.logicalName}`,
    ledgerTableName: `${prefix}${ledgerTable.logicalName}`,
  };
}

/** Creates the tables (and their indexes) from the same definitions the CDK stack deploys; existing tables are kept. */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await createTable(client, idempotencyTable, names.idempotencyTableName);
  await createTable(client, ledgerTable, names.ledgerTableName);
}

async function createTable(client: DynamoDBClient, definition: TableDefinition, tableName: string): Promise<void> {
  try {
    const indexes = definition.indexes ?? [];
    const attributes = new Set([definition.partitionKey, ...indexes.flatMap((index) => [index.partitionKey, index.sortKey])]);
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        KeySchema: [{ AttributeName: definition.partitionKey, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        ...(indexes.length > 0 && {
          GlobalSecondaryIndexes: indexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: 'HASH' },
              { AttributeName: index.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: index.projection ?? 'ALL' },
          })),
        }),
      }),
    );
  } catch (error) {
    if (error instanceof ResourceInUseException) return;
    throw error;
  }
  if (definition.timeToLiveAttribute !== undefined) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true },
      }),
    );
  }
}
