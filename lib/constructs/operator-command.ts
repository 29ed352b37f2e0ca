import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** An operator command as an alarm names it: for this very stack, whatever stack the operator's shell would pick. */
export const operatorCommand = (scope: IConstruct, command: string): string => `\`STACK_NAME=${Stack.of(scope).stackName} npm run ${command}\``;
