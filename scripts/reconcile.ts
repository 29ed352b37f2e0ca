/**
 * One reconciler run now, instead of waiting for the schedule:
 *   npm run reconcile                 invokes the deployed reconciler function (output ReconcilerFunctionName
 *                                     of STACK_NAME, default ExactlyOncePayments) and prints its summary
 *   npm run reconcile -- --local      asks a running `npm start` for a run
 * In AWS the operator needs cloudformation:DescribeStacks on the stack and lambda:InvokeFunction on the reconciler.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { readRuntimeFile } from '../local/runtime-file';
import { stackOutputs } from './stack-outputs';

async function runInAws(): Promise<unknown> {
  const output = await stackOutputs();
  const { Payload, FunctionError } = await new LambdaClient({}).send(
    new InvokeCommand({ FunctionName: output('ReconcilerFunctionName'), InvocationType: 'RequestResponse', Payload: new TextEncoder().encode('{}') }),
  );
  const answer = JSON.parse(new TextDecoder().decode(Payload ?? new Uint8Array())) as unknown;
  if (FunctionError !== undefined) throw new Error(`the reconciler failed its run: ${JSON.stringify(answer)}`);
  return answer;
}

async function runLocally(): Promise<unknown> {
  const response = await fetch(`${readRuntimeFile().url}/_local/reconcile`, { method: 'POST' });
  const answer = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`the reconciler failed its run: ${JSON.stringify(answer)}`);
  return answer;
}

async function main(): Promise<void> {
  const summary = process.argv.includes('--local') ? await runLocally() : await runInAws();
  console.table(summary);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
