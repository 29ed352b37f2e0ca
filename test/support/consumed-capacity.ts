import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** What one DynamoDB write consumed, as DynamoDB (and DynamoDB Local) reports it: by table and by index. */
export interface ConsumedWrite {
  command: string;
  table: string;
  tableUnits: number;
  /** Write units per global secondary index the write touched; absent when it touched none. */
  indexUnits: Record<string, number>;
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/**
 * Asks DynamoDB for the capacity of every item write the client sends from now on and records it:
 * a middleware sets `ReturnConsumedCapacity: INDEXES`, which changes nothing else about the request.
 */
export function recordConsumedWrites(client: DynamoDBClient): ConsumedWrite[] {
  const writes: ConsumedWrite[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '';
      if (!WRITES.has(command)) return next(args);
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'INDEXES';
      const result = await next(args);
      const consumed = (
        result.output as {
          ConsumedCapacity?: { TableName?: string; Table?: { CapacityUnits?: number }; GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }> };
        }
      ).ConsumedCapacity;
      if (consumed !== undefined) {
        writes.push({
          command,
          table: consumed.TableName ?? '',
          tableUnits: consumed.Table?.CapacityUnits ?? 0,
          indexUnits: Object.fromEntries(Object.entries(consumed.GlobalSecondaryIndexes ?? {}).map(([name, units]) => [name, units.CapacityUnits ?? 0])),
        });
      }
      return result;
    },
    { step: 'initialize', name: 'recordConsumedWrites' },
  );
  return writes;
}

/** Write units in all: the table's and every index's. */
export const totalUnits = (writes: ConsumedWrite[]) =>
  writes.reduce((sum, write) => sum + write.tableUnits + Object.values(write.indexUnits).reduce((a, b) => a + b, 0), 0);
