import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** Where `npm run deploy` writes the stack outputs and `npm run smoke` reads them (git-ignored). */
export const OUTPUTS_FILE = 'cdk-outputs.json';

/** The deployed stack (STACK_NAME, default ExactlyOncePayments) the operator commands act on. */
export const STACK_NAME = process.env.STACK_NAME ?? 'ExactlyOncePayments';

/** Reads the stack's outputs with your AWS credentials (cloudformation:DescribeStacks); a missing one is an error naming it. */
export async function stackOutputs(): Promise<(name: string) => string> {
  const { Stacks = [] } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: STACK_NAME }));
  const outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map(({ OutputKey, OutputValue }) => [OutputKey, OutputValue]));
  return (name) => {
    const value = outputs[name];
    if (value === undefined) throw new Error(`stack ${STACK_NAME} has no output ${name}: deploy it first`);
    return value;
  };
}
