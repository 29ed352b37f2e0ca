import { CfnOutput, type CfnOutputProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * A stack output whose name is exactly `name`, wherever in the construct tree it is declared (CDK
 * would otherwise derive `ApiApiUrlF2D81078` from its path): the README, the operator commands and
 * your scripts refer to these names.
 */
export function stackOutput(scope: Construct, name: string, props: CfnOutputProps): CfnOutput {
  const output = new CfnOutput(scope, name, props);
  output.overrideLogicalId(name);
  return output;
}
