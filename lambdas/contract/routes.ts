/**
 * The HTTP routes, defined once: the CDK stack builds API Gateway resources from them and the
 * local runtime routes requests with them.
 */
export type FunctionName = 'chargePayment';

export interface LambdaRoute {
  method: 'GET' | 'POST';
  /** API Gateway resource path; `{name}` segments are path parameters. */
  path: string;
  function: FunctionName;
  /** Requires the `x-api-key` header (API Gateway usage plan). */
  apiKeyRequired: boolean;
  /** The body is checked against the charge request model before the Lambda runs. */
  validatesChargeRequest: boolean;
}

export const routes: readonly LambdaRoute[] = [
  { method: 'POST', path: '/payments', function: 'chargePayment', apiKeyRequired: true, validatesChargeRequest: true },
];
