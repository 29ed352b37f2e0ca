#!/usr/bin/env node
/**
 * A host's CDK app with the payments service inside one of its own stacks: another stack id, another
 * construct id, and an `ApiUrl` output of its own. Synthesize it with
 * `npx cdk synth --app "npx tsx examples/host-app.ts"`; the infrastructure tests do, with cdk-nag.
 */
import { App, CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
// In a host repository that installs this one as a package, the same import is from 'exactly-once-payments'.
import { PaymentsService } from '../lib';

export function buildHostApp(app: App): { stack: Stack; payments: PaymentsService } {
  const stack = new Stack(app, 'ShopBackend', { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } });
  // The host's own output: the service's outputs are prefixed, so they never clash with it.
  new CfnOutput(stack, 'ApiUrl', { value: 'https://shop.example.com/api', description: "The shop's own API" });
  // No `sandbox: true`: the ledger and its tables stay when the stack goes (the ledger is the only record of what was charged).
  const payments = new PaymentsService(stack, 'Payments', { outputPrefix: 'Payments' });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { stack, payments };
}

if (require.main === module) buildHostApp(new App());
