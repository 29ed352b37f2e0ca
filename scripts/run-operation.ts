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
  if (local) return askLocalRuntime(operation, input);
  const output = await stackOutputs({ hasLocalMode: true });
  const invoked = await new LambdaClient({}).send(
    new InvokeCommand({ FunctionName: output(functionOutput), InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(input)) }),
  );
  return invocationAnswer(operation, invoked);
}

/** One run of an operation by a running `npm start` (`POST /_local/<operation>`), and its answer. */
export async function askLocalRuntime(operation: string, input: Record<string, string> = {}): Promise<unknown> {
  const response = await fetch(`${readRuntimeFile().url}/_local/${operation}?${new URLSearchParams(input)}`, { method: 'POST' });
  const answer = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`the ${operation} run failed: ${JSON.stringify(answer)}`);
  return answer;
}

/** The function's answer, or, when it failed, an error with its reply (an error report, perhaps not even JSON: never parsed as an answer). */
export function invocationAnswer(operation: string, { Payload, FunctionError }: { Payload?: Uint8Array; FunctionError?: string }): unknown {
  const reply = new TextDecoder().decode(Payload ?? new Uint8Array());
  if (FunctionError !== undefined) throw new Error(`the ${operation} run failed (${FunctionError}): ${reply}`);
  return JSON.parse(reply) as unknown;
}
