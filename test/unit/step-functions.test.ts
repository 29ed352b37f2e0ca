import { runExecution, type StepFunctionsCall } from '../../scripts/step-functions';

/** A stand-in for the Step Functions API: each DescribeExecution answers the next status. */
function api(statuses: Array<Record<string, string>>): { call: StepFunctionsCall; calls: string[] } {
  const calls: string[] = [];
  const call: StepFunctionsCall = async (action, request) => {
    calls.push(`${action} ${JSON.stringify(request)}`);
    return action === 'StartExecution' ? { executionArn: 'arn:exec' } : (statuses.shift() as Record<string, string>);
  };
  return { call, calls };
}

describe('npm run audit in AWS: one execution of the state machine', () => {
  it('starts it with the window and waits until it succeeds, answering its verdict', async () => {
    const { call, calls } = api([{ status: 'RUNNING' }, { status: 'SUCCEEDED', output: '{"slices":49}' }]);
    await expect(runExecution(call, 'arn:machine', { since: '49h' }, 1)).resolves.toEqual({ slices: 49 });
    expect(calls).toEqual([
      'StartExecution {"stateMachineArn":"arn:machine","input":"{\\"since\\":\\"49h\\"}"}',
      'DescribeExecution {"executionArn":"arn:exec"}',
      'DescribeExecution {"executionArn":"arn:exec"}',
    ]);
  });

  it('fails naming the execution, how it ended and why', async () => {
    const { call } = api([{ status: 'FAILED', error: 'States.TaskFailed', cause: 'the ledger is unavailable' }]);
    await expect(runExecution(call, 'arn:machine', {}, 1)).rejects.toThrow('the execution arn:exec ended FAILED: States.TaskFailed the ledger is unavailable');
  });
});
