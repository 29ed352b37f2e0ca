import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { readRuntimeFile } from '../local/runtime-file';
import { stackOutputs } from './stack-outputs';

/**
 * Runs one of the stack's operator functions now and returns its answer: in AWS by invoking the
 * function named by a stack output (lambda:InvokeFunction, cloudformation:DescribeStacks), or, with
 * `local`, by asking a running `npm start` at `POST /_local/<operation>`.
 */
export async function runOperation(
  { operation, functionOutput, local }: { operation: string; functionOutput: string; local: boolean },
  input: Record<string, string> = {},
): Promise<unknown> {
  if (local) {
    const response = await fetch(`${readRuntimeFile().url}/_local/${operation}?${new URLSearchParams(input)}`, { method: 'POST' });
    const answer = (await response.json()) as unknown;
    if (!response.ok) throw new Error(`the ${operation} run failed: ${JSON.stringify(answer)}`);
    return answer;
  }
  const output = await stackOutputs();
  const { Payload, FunctionError } = await new LambdaClient({}).send(
    new InvokeCommand({ FunctionName: output(functionOutput), InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(input)) }),
  );
  const answer = JSON.parse(new TextDecoder().decode(Payload ?? new Uint8Array())) as unknown;
  if (FunctionError !== undefined) throw new Error(`the ${operation} run failed: ${JSON.stringify(answer)}`);
  return answer;
}
