/**
 * One reconciler run now, instead of waiting for the schedule:
 *   npm run reconcile                 invokes the deployed reconciler function (output ReconcilerFunctionName
 *                                     of STACK_NAME, see scripts/stack-outputs.ts) and prints its summary
 *   npm run reconcile -- --local      asks a running `npm start` for a run
 * In AWS the operator needs cloudformation:DescribeStacks on the stack and lambda:InvokeFunction on the reconciler.
 */
import type { ReconcileRunSummary } from '../lambdas/handlers/reconcile-pending';
import { runOperation } from './run-operation';

runOperation({ operation: 'reconcile', functionOutput: 'ReconcilerFunctionName', local: process.argv.includes('--local') })
  .then((summary) => {
    const { refunds, ...pending } = summary as ReconcileRunSummary;
    console.log('Pending orders');
    console.table(pending);
    console.log('Open refunds');
    console.table(refunds);
  })
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
