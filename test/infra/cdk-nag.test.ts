import { Stack } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { synthesize } from '../support/synth';

describe('cdk-nag AWS Solutions checks', () => {
  it.each([
    ['sandbox', { sandbox: 'true' }],
    ['retained', {}],
    ['existing Stripe secret', { stripeSecretName: 'payments/stripe' }],
    // With its web ACL, the stage needs no AwsSolutions-APIG3 acknowledgment (it is only made without).
    ['WAF, reserved concurrency and X-Ray sampling', { waf: 'true', reservedConcurrency: 'true', xraySamplingRate: '0.05' }],
  ])('pass for the %s stack', (_case, context) => {
    const { app } = synthesize(context);
    expect(() => app.synth({ force: true })).not.toThrow();
  });

  it('are really applied: an unacknowledged finding fails synth', () => {
    const { app, stack } = synthesize({ sandbox: 'true' });
    new Queue(Stack.of(stack), 'PlainQueue');
    expect(() => app.synth({ force: true })).toThrow(/AwsSolutions-SQS4/);
  });
});
