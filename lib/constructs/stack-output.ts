import { CfnOutput, type CfnOutputProps } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The context key under which a PaymentsService tells the constructs under it its output prefix. */
export const OUTPUT_PREFIX_CONTEXT = 'exactly-once-payments:outputPrefix';

/** The prefix the enclosing PaymentsService puts before its output names ('' when none). */
export const outputPrefix = (scope: IConstruct): string => scope.node.tryGetContext(OUTPUT_PREFIX_CONTEXT) ?? '';

/**
 * A stack output named exactly `<prefix>name`, wherever in the construct tree it is declared (CDK
 * would otherwise derive `ApiApiUrlF2D81078` from its path): the docs, the operator commands and
 * your scripts refer to these names.
 */
export function stackOutput(scope: IConstruct, name: string, props: CfnOutputProps): CfnOutput {
  const output = new CfnOutput(scope, name, props);
  output.overrideLogicalId(`${outputPrefix(scope)}${name}`);
  return output;
}
