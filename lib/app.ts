import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { assertNamespace } from '../lambdas/contract/payment-metadata';
import { SANDBOX_SUFFIX, STACK_NAMES } from '../lambdas/contract/settings';
import { ledgerTable } from '../lambdas/contract/tables';
import { PaymentsStack } from './payments-stack';

/**
 * Adds the payments stack to an app, configured from context (`-c name=value`):
 * `sandbox=true` (destroy data with the stack; named ExactlyOncePaymentsSandbox), `ledgerIndexes=N` (upgrading in steps), `apiGatewayCloudWatchRole=true` / `apiGatewayExecutionLogs=true` (execution logs), `namespace` (at Stripe; default `<stack>-<account>-<region>`), `stripeSecretName`, `stripeWebhookSecretName`, `secretsKmsKeyArn`, `alarmEmail`, `logLevel`, `stackName`.
 * Every AWS Solutions finding fails synth unless acknowledged, with its reason, where it arises.
 */
export function buildApp(app: App): PaymentsStack {
  const context = (name: string): string | undefined => app.node.tryGetContext(name)?.toString();
  const sandbox = context('sandbox') === 'true';
  const stackName = context('stackName') ?? (sandbox ? STACK_NAMES.sandbox : STACK_NAMES.retained);
  // The two kinds never share a name, so deploying one kind can never turn a stack of the other into it.
  if (sandbox !== stackName.endsWith(SANDBOX_SUFFIX)) {
    throw new Error(
      sandbox
        ? `a sandbox stack (deleted with its data) is named …${SANDBOX_SUFFIX}, not ${stackName}: give it another -c stackName`
        : `${stackName} is a sandbox's name (…${SANDBOX_SUFFIX}): deploy it with -c sandbox=true, or give a retained stack another name`,
    );
  }
  const stack = new PaymentsStack(app, stackName, {
    sandbox,
    namespace: context('namespace') === undefined ? undefined : assertNamespace(context('namespace') as string),
    stripeSecretName: context('stripeSecretName'),
    stripeWebhookSecretName: context('stripeWebhookSecretName'),
    secretsKmsKeyArn: context('secretsKmsKeyArn'),
    alarmEmail: context('alarmEmail'),
    logLevel: context('logLevel'),
    ledgerIndexes: ledgerIndexesFrom(context('ledgerIndexes')),
    executionLogs: context('apiGatewayCloudWatchRole') === 'true' ? 'create' : context('apiGatewayExecutionLogs') === 'true' ? 'existing' : 'off',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

/** `-c ledgerIndexes=N`: a whole number of the ledger's indexes; anything else would drop them all. */
function ledgerIndexesFrom(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const count = Number(value);
  const most = ledgerTable.indexes?.length ?? 0;
  if (!Number.isInteger(count) || count < 0 || count > most) throw new Error(`-c ledgerIndexes must be a whole number from 0 to ${most}, not "${value}"`);
  return count;
}
