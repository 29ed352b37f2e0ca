import { setTimeout as sleep } from 'node:timers/promises';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SignatureV4 } from '@smithy/signature-v4';

/** A Step Functions API action (AWS JSON 1.0): its request and answer as JSON. */
export type StepFunctionsCall = (action: 'StartExecution' | 'DescribeExecution', request: Record<string, string>) => Promise<Record<string, string>>;

/**
 * StartExecution and DescribeExecution, signed (SigV4) with the credentials and region the AWS SDK
 * resolves: the two calls `npm run audit` makes, without @aws-sdk/client-sfn as one more dependency.
 */
export function stepFunctionsApi(): StepFunctionsCall {
  const { config } = new CloudFormationClient({});
  return async (action, request) => {
    const region = await config.region();
    const hostname = `states.${region}.amazonaws.com`;
    const signer = new SignatureV4({ service: 'states', region, credentials: config.credentials, sha256: config.sha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'https:',
      hostname,
      path: '/',
      headers: { host: hostname, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AWSStepFunctions.${action}` },
      body: JSON.stringify(request),
    });
    const response = await fetch(`https://${hostname}/`, { method: 'POST', headers: signed.headers, body: signed.body });
    const answer = (await response.json()) as Record<string, string>;
    if (!response.ok) throw new Error(`Step Functions ${action} failed: ${answer.__type ?? response.status}: ${answer.message ?? answer.Message ?? ''}`);
    return answer;
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
