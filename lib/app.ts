import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SANDBOX_SUFFIX, STACK_NAMES } from '../lambdas/contract/settings';
import { stripeRequestsPerSecondFrom } from '../lambdas/contract/stripe-budget';
import { ledgerTable } from '../lambdas/contract/tables';
import { PaymentsStack } from './payments-stack';

/**
 * Adds the payments stack to an app, configured from context (`-c name=value`):
 * `sandbox=true` (destroy data with the stack; named ExactlyOncePaymentsSandbox), `retainedStackName`, `ledgerIndexes=N` (upgrading in steps), `keepCreatedByDay=true` (replacing that index in two deploys), `apiGatewayCloudWatchRole=true` / `apiGatewayExecutionLogs=true` (execution logs), `namespace` (at Stripe; default `<stack>-<account>-<region>`), `stripeSecretName`, `stripeWebhookSecretName`, `secretsKmsKeyArn`, `alarmEmail`, `logLevel`, `stackName`, `stripeRequestsPerSecond` (the Stripe budget every caller is sized from; default 25); admission (docs/customizing.md): `apiRequestsPerSecond` / `apiBurst`, `getRequestsPerSecond` / `getBurst`, `webhookRequestsPerSecond`, `reservedConcurrency=true`, `waf=true` / `wafRequestsPerIpPerMinute`, `xraySamplingRate`.
 * Every AWS Solutions finding fails synth unless acknowledged, with its reason, where it arises.
 */
export function buildApp(app: App): PaymentsStack {
  const context = (name: string): string | undefined => app.node.tryGetContext(name)?.toString();
  const sandbox = context('sandbox') === 'true';
  const stackName = context('stackName') ?? (sandbox ? STACK_NAMES.sandbox : STACK_NAMES.retained);
  // The two kinds never share a name, so deploying one kind can never turn a stack of the other into
  // it. A retained stack an earlier version let take a sandbox's name is named exactly, to be kept.
  const retainedUnderSandboxName = context('retainedStackName') === stackName;
  if (sandbox && !stackName.endsWith(SANDBOX_SUFFIX)) {
    throw new Error(`a sandbox stack (deleted with its data) is named …${SANDBOX_SUFFIX}, not ${stackName}: give it another -c stackName`);
  }
  if (!sandbox && stackName.endsWith(SANDBOX_SUFFIX) && !retainedUnderSandboxName) {
    throw new Error(
      `${stackName} is a sandbox's name (…${SANDBOX_SUFFIX}), and this stack keeps its data: name it otherwise, or, for a retained stack deployed under this name before, add -c retainedStackName=${stackName}`,
    );
  }
  if (sandbox && retainedUnderSandboxName) throw new Error(`${stackName} is a retained stack (-c retainedStackName): it cannot be deployed as a sandbox`);
  const stack = new PaymentsStack(app, stackName, {
    sandbox,
    // CloudFormation refuses to delete a retained stack until someone turns this off on purpose.
    terminationProtection: !sandbox,
    namespace: context('namespace'),
    stripeSecretName: context('stripeSecretName'),
    stripeWebhookSecretName: context('stripeWebhookSecretName'),
    secretsKmsKeyArn: context('secretsKmsKeyArn'),
    alarmEmail: context('alarmEmail'),
    logLevel: context('logLevel'),
    ledgerIndexes: ledgerIndexesFrom(context('ledgerIndexes')),
    keepCreatedByDay: context('keepCreatedByDay') === 'true',
    stripeRequestsPerSecond: stripeRequestsPerSecondFrom(context('stripeRequestsPerSecond')),
    apiRequestsPerSecond: numberFrom('apiRequestsPerSecond', context('apiRequestsPerSecond')),
    apiBurst: numberFrom('apiBurst', context('apiBurst')),
    getRequestsPerSecond: numberFrom('getRequestsPerSecond', context('getRequestsPerSecond')),
    getBurst: numberFrom('getBurst', context('getBurst')),
    webhookRequestsPerSecond: numberFrom('webhookRequestsPerSecond', context('webhookRequestsPerSecond')),
    reservedConcurrency: switchFrom('reservedConcurrency', context('reservedConcurrency')),
    waf: switchFrom('waf', context('waf')),
    wafRequestsPerIpPerMinute: numberFrom('wafRequestsPerIpPerMinute', context('wafRequestsPerIpPerMinute')),
    xraySamplingRate: numberFrom('xraySamplingRate', context('xraySamplingRate')),
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

/** A numeric `-c name=value`; the service checks its range and names the setting. */
function numberFrom(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new Error(`-c ${name} must be a number, not "${value}"`);
  return parsed;
}

/** An opt-in `-c name=true`: anything but true or false is a typo that would silently leave it off. */
function switchFrom(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw new Error(`-c ${name} must be true or false, not "${value}"`);
  return value === 'true';
}
