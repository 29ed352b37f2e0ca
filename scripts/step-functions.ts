import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

/** A Step Functions API action: its request and answer. */
export type StepFunctionsCall = (action: 'StartExecution' | 'DescribeExecution', request: Record<string, string>) => Promise<Record<string, string>>;

/** StartExecution and DescribeExecution with the credentials and region the AWS SDK resolves: the two calls `npm run audit` makes. */
export function stepFunctionsApi(client = new SFNClient({})): StepFunctionsCall {
  return async (action, request) => {
    const answer =
      action === 'StartExecution'
        ? await client.send(new StartExecutionCommand({ stateMachineArn: request.stateMachineArn, input: request.input }))
        : await client.send(new DescribeExecutionCommand({ executionArn: request.executionArn }));
    return Object.fromEntries(Object.entries(answer).filter(([, value]) => typeof value === 'string')) as Record<string, string>;
  };
}

/** Starts an execution and waits for it to end: its output when it succeeded, else an error naming the execution, its status and its cause. */
export async function runExecution(call: StepFunctionsCall, stateMachineArn: string, input: unknown, pollMs = 5_000): Promise<unknown> {
  const { executionArn } = await call('StartExecution', { stateMachineArn, input: JSON.stringify(input) });
  for (;;) {
    const { status, output, error, cause } = await call('DescribeExecution', { executionArn });
    if (status === 'SUCCEEDED') return JSON.parse(output) as unknown;
    if (status !== 'RUNNING' && status !== 'PENDING_REDRIVE')
      throw new Error(`the execution ${executionArn} ended ${status}: ${error ?? ''} ${cause ?? ''}`.trim());
    await sleep(pollMs);
  }
}
