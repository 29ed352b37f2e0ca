#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PaymentsStack } from '../lib/payments-stack';

const app = new App();
const context = (name: string): string | undefined => app.node.tryGetContext(name)?.toString();

new PaymentsStack(app, context('stackName') ?? 'ExactlyOncePayments', {
  sandbox: context('sandbox') === 'true',
  stripeSecretName: context('stripeSecretName'),
  logLevel: context('logLevel'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

// Every AWS Solutions finding fails synth unless acknowledged, with its reason, where it arises.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
