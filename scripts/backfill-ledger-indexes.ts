/**
 * Once, after upgrading a stack whose ledger was written before it had its indexes:
 *   npm run ledger:backfill
 * gives the records of that time their index keys, so the reconciler sees the pending ones and the
 * audit the others (lambdas/adapters/dynamodb-ledger.ts, backfillIndexKeys). Safe beside live
 * traffic and safe to run again. Finds the ledger through the output LedgerTableName of STACK_NAME
 * (see scripts/stack-outputs.ts); needs cloudformation:DescribeStacks, dynamodb:Scan and dynamodb:UpdateItem on it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { backfillIndexKeys } from '../lambdas/adapters/dynamodb-ledger';
import { stackOutputs } from './stack-outputs';

stackOutputs({ hasLocalMode: false })
  .then((output) => backfillIndexKeys(new DynamoDBClient({}), output('LedgerTableName')))
  .then((counts) => console.table(counts))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
