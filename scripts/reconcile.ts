/**
 * One reconciler run now, instead of waiting for the schedule:
 *   npm run reconcile                 invokes the deployed reconciler function (output ReconcilerFunctionName
 *                                     of STACK_NAME, see scripts/stack-outputs.ts) and prints its summary
 *   npm run reconcile -- --local      asks a running `npm start` for a run
 * In AWS the operator needs cloudformation:DescribeStacks on the stack and lambda:InvokeFunction on the reconciler.
 */
import { runOperation } from './run-operation';

runOperation({ operation: 'reconcile', functionOutput: 'ReconcilerFunctionName', local: process.argv.includes('--local') })
  .then((summary) => console.table(summary))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
