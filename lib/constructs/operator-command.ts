import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { outputPrefix } from './stack-output';

/** An operator command as an alarm names it: for this very stack in its region (and output prefix), whatever the operator's shell would pick. */
export const operatorCommand = (scope: IConstruct, command: string): string => {
  const stack = Stack.of(scope);
  const prefix = outputPrefix(scope);
  return `\`AWS_REGION=${stack.region} STACK_NAME=${stack.stackName}${prefix === '' ? '' : ` OUTPUT_PREFIX=${prefix}`} npm run ${command}\``;
};
