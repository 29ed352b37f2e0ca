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

/** One of the stack's outputs by the name this service gives it; a missing one is an error naming it. */
export type StackOutput = (name: string) => string;

/**
 * Looks outputs up by their full name: a host app may give the service's outputs a prefix
 * (OUTPUT_PREFIX=Payments reads `PaymentsApiUrl` for `ApiUrl`).
 */
function outputLookup(outputs: Record<string, string | undefined>, missing: (fullName: string) => string): StackOutput {
  const prefix = process.env.OUTPUT_PREFIX ?? '';
  return (name) => {
    const fullName = `${prefix}${name}`;
    const value = outputs[fullName];
    if (value === undefined) throw new Error(missing(fullName));
    return value;
  };
}

/** The outputs of the stack `npm run deploy` wrote here: STACK_NAME's, or the file's only stack. */
export function deployedOutputs(file = OUTPUTS_FILE, chosen = process.env.STACK_NAME): { stackName: string; output: StackOutput } {
  if (!existsSync(file)) throw new Error(`no ${file}: run npm run deploy first`);
  const stacks = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const names = chosen ? [chosen] : Object.keys(stacks);
  if (names.length !== 1 || stacks[names[0]] === undefined) {
    throw new Error(`${file} names the stacks [${Object.keys(stacks).join(', ')}]: set STACK_NAME to the one to act on`);
  }
  const stackName = names[0];
  return { stackName, output: outputLookup(stacks[stackName], (fullName) => `${file} has no output ${fullName} for stack ${stackName}`) };
}

/**
 * Reads the stack's outputs with your AWS credentials (cloudformation:DescribeStacks). `hasLocalMode`:
 * the command also runs against `npm start` with `--local`, which a missing region then suggests.
 */
export async function stackOutputs({ hasLocalMode }: { hasLocalMode: boolean }): Promise<StackOutput> {
  const cloudFormation = new CloudFormationClient({});
  const region = await cloudFormation.config.region().catch((error: unknown) => {
    throw withRegionAdvice(error, hasLocalMode);
  });
  // On stderr, so that --json output stays clean: which stack, where, before anything is done to it.
  console.error(`stack ${STACK_NAME} in ${region}`);
  const { Stacks = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName: STACK_NAME }));
  const outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map(({ OutputKey, OutputValue }) => [OutputKey, OutputValue]));
  return outputLookup(outputs, (fullName) => `stack ${STACK_NAME} has no output ${fullName}: deploy it first, or set OUTPUT_PREFIX to its outputs' prefix`);
}

/** The AWS SDK's bare `Region is missing`, told as what to do about it. */
function withRegionAdvice(error: unknown, hasLocalMode: boolean): unknown {
  if (!(error instanceof Error) || error.message !== 'Region is missing') return error;
  const local = hasLocalMode ? ', or add `-- --local` to act on the local runtime of `npm start`' : '';
  return new Error(`no AWS region: set AWS_REGION (or AWS_PROFILE, a profile with a region) to act on the deployed stack ${STACK_NAME}${local}`, {
    cause: error,
  });
}
