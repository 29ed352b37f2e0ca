import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { assertNamespace } from '../lambdas/contract/payment-metadata';
import { PaymentsStack } from './payments-stack';

/**
 * Adds the payments stack to an app, configured from context (`-c name=value`):
 * `sandbox=true` (destroy data with the stack), `ledgerIndexes=N` (upgrading in steps), `apiGatewayCloudWatchRole=true` / `apiGatewayExecutionLogs=true` (execution logs), `namespace` (at Stripe; default `<stack>-<account>-<region>`), `stripeSecretName`, `stripeWebhookSecretName`, `secretsKmsKeyArn`, `alarmEmail`, `logLevel`, `stackName`.
 * Every AWS Solutions finding fails synth unless acknowledged, with its reason, where it arises.
 */
export function buildApp(app: App): PaymentsStack {
  const context = (name: string): string | undefined => app.node.tryGetContext(name)?.toString();
  const stackName = context('stackName') ?? 'ExactlyOncePayments';
  const stack = new PaymentsStack(app, stackName, {
    sandbox: context('sandbox') === 'true',
    namespace: context('namespace') === undefined ? undefined : assertNamespace(context('namespace') as string),
    stripeSecretName: context('stripeSecretName'),
    stripeWebhookSecretName: context('stripeWebhookSecretName'),
    secretsKmsKeyArn: context('secretsKmsKeyArn'),
    alarmEmail: context('alarmEmail'),
    logLevel: context('logLevel'),
    ledgerIndexes: context('ledgerIndexes') === undefined ? undefined : Number(context('ledgerIndexes')),
    executionLogs: context('apiGatewayCloudWatchRole') === 'true' ? 'create' : context('apiGatewayExecutionLogs') === 'true' ? 'existing' : 'off',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
