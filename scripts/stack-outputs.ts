import '../local/node-version-warning';
import { existsSync, readFileSync } from 'node:fs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { STACK_NAMES } from '../lambdas/contract/settings';

/** Where `npm run deploy` writes the stack outputs and `npm run smoke` reads them (git-ignored). */
export const OUTPUTS_FILE = 'cdk-outputs.json';

/**
 * The deployed stack the operator commands act on: STACK_NAME, else the one `npm run deploy` wrote
 * to cdk-outputs.json here, else ExactlyOncePayments.
 */
export const STACK_NAME = process.env.STACK_NAME || deployedStackName() || STACK_NAMES.retained;

/** The outputs `npm run deploy` wrote, by stack name; none when it has not run here. */
export function deployedOutputs(): Record<string, Record<string, string>> {
  return existsSync(OUTPUTS_FILE) ? (JSON.parse(readFileSync(OUTPUTS_FILE, 'utf8')) as Record<string, Record<string, string>>) : {};
}

function deployedStackName(): string | undefined {
  const names = Object.keys(deployedOutputs());
  return names.length === 1 ? names[0] : undefined;
}

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
