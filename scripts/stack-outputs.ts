import '../local/node-version-warning';
import { existsSync, readFileSync } from 'node:fs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { STACK_NAMES } from '../lambdas/contract/settings';

/** Where `npm run deploy` writes the stack outputs and `npm run smoke` reads them (git-ignored). */
export const OUTPUTS_FILE = 'cdk-outputs.json';

/**
 * The deployed stack the operator commands act on: STACK_NAME, else the retained stack. Never
 * guessed from a file: a production runbook must not land on a sandbox (STACK_NAME=ExactlyOncePaymentsSandbox).
 */
export const STACK_NAME = process.env.STACK_NAME || STACK_NAMES.retained;

/** The outputs of the stack `npm run deploy` wrote here: STACK_NAME's, or the file's only stack. */
export function deployedOutputs(file = OUTPUTS_FILE, chosen = process.env.STACK_NAME): { stackName: string; outputs: Record<string, string> } {
  if (!existsSync(file)) throw new Error(`no ${file}: run npm run deploy first`);
  const stacks = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const names = chosen ? [chosen] : Object.keys(stacks);
  if (names.length !== 1 || stacks[names[0]] === undefined) {
    throw new Error(`${file} names the stacks [${Object.keys(stacks).join(', ')}]: set STACK_NAME to the one to act on`);
  }
  return { stackName: names[0], outputs: stacks[names[0]] };
}

/** Reads the stack's outputs with your AWS credentials (cloudformation:DescribeStacks); a missing one is an error naming it. */
export async function stackOutputs(): Promise<(name: string) => string> {
  const cloudFormation = new CloudFormationClient({});
  // On stderr, so that --json output stays clean: which stack, where, before anything is done to it.
  console.error(`stack ${STACK_NAME} in ${await cloudFormation.config.region()}`);
  const { Stacks = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName: STACK_NAME }));
  const outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map(({ OutputKey, OutputValue }) => [OutputKey, OutputValue]));
  return (name) => {
    const value = outputs[name];
    if (value === undefined) throw new Error(`stack ${STACK_NAME} has no output ${name}: deploy it first`);
    return value;
  };
}
