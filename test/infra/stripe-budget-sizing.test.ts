import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../lambdas/contract/environment';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { synthesize } from '../support/synth';

// One number sizes every Stripe caller: a budget of a live account that Stripe raised.
const RATE = 1_500;
const { template } = synthesize({ sandbox: 'true', stripeRequestsPerSecond: String(RATE) });
const budget = stripeBudgetOf(RATE);
interface FunctionResource {
  Type: string;
  Properties: { Description?: string; Environment?: { Variables: Record<string, string> } };
}
const resources = template.toJSON().Resources as Record<string, FunctionResource>;
const functionNamed = (description: RegExp) =>
  Object.values(resources).find(({ Type, Properties }) => Type === 'AWS::Lambda::Function' && description.test(Properties.Description ?? ''));

describe(`-c stripeRequestsPerSecond=${RATE}`, () => {
  it("sizes the gateway: POST /payments's stage throttle is the sync charges' share", () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: 'POST',
          ResourcePath: '/~1payments',
          ThrottlingRateLimit: budget.syncCharges.rateLimit,
          ThrottlingBurstLimit: budget.syncCharges.burstLimit,
        }),
      ]),
    });
    expect(budget.syncCharges.rateLimit).toBe(600);
  });

  it("sizes the worker: the event source's batch and concurrency, and the pace it reads from its environment", () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 10, ScalingConfig: { MaximumConcurrency: 45 } });
    expect(functionNamed(/^Charges queued orders/)?.Properties.Environment?.Variables[ENV.stripeRequestsPerSecond]).toBe(String(RATE));
  });

  it('sizes the reconciler: its pace and parallelism come from the budget it reads from its environment', () => {
    expect(functionNamed(/^Settles orders left pending/)?.Properties.Environment?.Variables[ENV.stripeRequestsPerSecond]).toBe(String(RATE));
    expect(budget.reconciler).toEqual({ requestsPerSecond: 10, parallelism: 10 });
  });
});
