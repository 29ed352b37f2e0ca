import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** An operator command as an alarm names it: for this very stack in its region, whatever the operator's shell would pick. */
export const operatorCommand = (scope: IConstruct, command: string): string => {
  const stack = Stack.of(scope);
  return `\`AWS_REGION=${stack.region} STACK_NAME=${stack.stackName} npm run ${command}\``;
};
