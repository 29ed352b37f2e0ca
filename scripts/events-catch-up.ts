/**
 * One Events API catch-up run now, instead of waiting for the schedule:
 *   npm run events:catch-up [-- --since 72h]          invokes the deployed function (output EventsCatchUpFunctionName
 *                                                      of STACK_NAME, see scripts/stack-outputs.ts) and prints its summary
 *   npm run events:catch-up -- --local [--since 72h]   asks a running `npm start` for a run
 * Without --since it reads from its checkpoint. In AWS the operator needs cloudformation:DescribeStacks
 * on the stack and lambda:InvokeFunction on the function.
 */
import { runOperation } from './run-operation';

const args = process.argv.slice(2);
const sinceAt = args.indexOf('--since');
const since = sinceAt === -1 ? undefined : args[sinceAt + 1];
if (sinceAt !== -1 && (since === undefined || !/^\d+[mhd]$/.test(since))) {
  console.error('--since takes a window such as 72h, 90m or 7d');
  process.exit(2);
}

runOperation({ operation: 'catchup', functionOutput: 'EventsCatchUpFunctionName', local: args.includes('--local') }, since === undefined ? {} : { since })
  .then((summary) => console.log(JSON.stringify(summary, null, 2)))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
