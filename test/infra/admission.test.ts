import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { admissionSettingsOf, type ReservedFunction, requiredAccountConcurrency, reservedConcurrencyOf } from '../../lambdas/contract/admission';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import type { PaymentsStack } from '../../lib/payments-stack';
import { synthesize } from '../support/synth';

type Resource = { Properties: Record<string, unknown> };
const resources = (template: Template, type: string) => Object.values(template.findResources(type)) as Resource[];

/** The stage's method throttles by `<METHOD> <resource path>`, as API Gateway reads them. */
function stageThrottles(template: Template): Record<string, { rate: unknown; burst: unknown }> {
  const [stage] = resources(template, 'AWS::ApiGateway::Stage');
  const settings = stage.Properties.MethodSettings as Array<Record<string, unknown>>;
  return Object.fromEntries(
    settings
      .filter((setting) => setting.ThrottlingRateLimit !== undefined)
      .map((setting) => [
        // `/~1payments~1{orderId}~1refunds` is /payments/{orderId}/refunds.
        `${setting.HttpMethod} ${(setting.ResourcePath as string).slice(1).replaceAll('~1', '/')}`,
        { rate: setting.ThrottlingRateLimit, burst: setting.ThrottlingBurstLimit },
      ]),
  );
}

/** The usage plan's own throttle and its method throttles by `<resource path>/<METHOD>`. */
function usagePlan(template: Template) {
  const [plan] = resources(template, 'AWS::ApiGateway::UsagePlan');
  const [stage] = plan.Properties.ApiStages as Array<{ Throttle: Record<string, { RateLimit: number; BurstLimit: number }> }>;
  return { throttle: plan.Properties.Throttle, methods: stage.Throttle };
}

/** Each function's reserved concurrency (undefined: none), by its name in admission.ts. */
function reservations(stack: PaymentsStack): Record<ReservedFunction, number | undefined> {
  const { service } = stack;
  const template = Stack.of(stack).resolve.bind(Stack.of(stack));
  const functions = {
    chargePayment: service.chargePayment,
    chargeWorker: service.chargeWorker,
    refundPayment: service.refundPayment,
    getPayment: service.getPayment,
    stripeWebhook: service.stripeWebhook,
    reconciler: service.reconciler.function,
    audit: service.audit.compareSlice,
    eventsCatchUp: service.eventsCatchUp.function,
  };
  return Object.fromEntries(
    Object.entries(functions).map(([name, fn]) => [name, template((fn.function.node.defaultChild as CfnFunction).reservedConcurrentExecutions)]),
  ) as Record<ReservedFunction, number | undefined>;
}

describe('admission with the defaults (a Stripe sandbox, 25 requests/s)', () => {
  const { stack, template } = synthesize({ sandbox: 'true' });
  const budget = stripeBudgetOf();

  it('throttles the routes that call Stripe at their shares, and the webhook well above its deliveries, at the stage', () => {
    expect(stageThrottles(template)).toEqual({
      'POST /payments': { rate: budget.syncCharges.rateLimit, burst: budget.syncCharges.burstLimit },
      'POST /payments/{orderId}/refunds': { rate: budget.refunds.rateLimit, burst: budget.refunds.burstLimit },
      'POST /webhooks/stripe': { rate: budget.webhook.rateLimit, burst: budget.webhook.burstLimit },
    });
    expect(budget.webhook.rateLimit).toBeGreaterThan(budget.ordersPerSecond * 3);
  });

  it('gives each API key 50 requests/s with a burst of 100, and GET /payments/{orderId} 25 with a burst of 50 within them', () => {
    expect(usagePlan(template)).toEqual({
      throttle: { RateLimit: 50, BurstLimit: 100 },
      methods: { '/payments/{orderId}/GET': { RateLimit: 25, BurstLimit: 50 } },
    });
  });

  it('reserves no concurrency, adds no web ACL and no sampling rule: a new account (concurrency limit 10) can deploy it', () => {
    for (const { Properties } of resources(template, 'AWS::Lambda::Function')) expect(Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(Object.values(reservations(stack))).toEqual(Array(8).fill(undefined));
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.resourceCountIs('AWS::XRay::SamplingRule', 0);
  });

  it.each([
    ['THROTTLED', '429', 'too_many_requests'],
    ['QUOTA_EXCEEDED', '429', 'too_many_requests'],
    ['INTEGRATION_FAILURE', '503', 'service_unavailable'],
    ['API_CONFIGURATION_ERROR', '503', 'service_unavailable'],
    ['DEFAULT_5XX', undefined, 'gateway_error'],
  ])('answers %s with status %p, Retry-After and the contract error shape (no status: the type keeps its own)', (type, status, code) => {
    const [response] = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: type } })) as Resource[];
    expect(response.Properties.StatusCode).toBe(status);
    expect(response.Properties.ResponseParameters).toEqual({ 'gatewayresponse.header.Retry-After': "'1'" });
    const body = (response.Properties.ResponseTemplates as Record<string, string>)['application/json'].replace('$context.error.messageString', '"a message"');
    expect(JSON.parse(body)).toEqual({ error: { code, message: 'a message' } });
  });
});

/** The stage's method settings: its `/*` default and each method's own, by `<METHOD> <resource path>`. */
function methodSettings(template: Template): Record<string, Record<string, unknown>> {
  const [stage] = resources(template, 'AWS::ApiGateway::Stage');
  const settings = stage.Properties.MethodSettings as Array<Record<string, unknown>>;
  return Object.fromEntries(
    settings.map(({ HttpMethod, ResourcePath, ...setting }) => [`${HttpMethod} ${(ResourcePath as string).slice(1).replaceAll('~1', '/')}`, setting]),
  );
}

describe("a throttled method's own settings", () => {
  // API Gateway gives a method with settings of its own the defaults for the rest (no metrics, no
  // logs): the stage's must be repeated on it, or the routes that matter most lose them.
  it.each([
    ['off', {}, 'OFF'],
    ['on', { apiGatewayExecutionLogs: 'true' }, 'ERROR'],
  ])("keep the stage's metrics, execution logs and data-trace setting (execution logs %s)", (_logs, context, level) => {
    const { '* *': stage, ...methods } = methodSettings(synthesize({ sandbox: 'true', ...context }).template);
    expect(stage).toMatchObject({ LoggingLevel: level, MetricsEnabled: true, DataTraceEnabled: false });
    expect(Object.keys(methods).sort()).toEqual(['POST /payments', 'POST /payments/{orderId}/refunds', 'POST /webhooks/stripe']);
    for (const method of Object.values(methods)) expect(method).toMatchObject({ LoggingLevel: level, MetricsEnabled: true, DataTraceEnabled: false });
  });
});

describe('admission from context', () => {
  it('sizes the stage throttles from -c stripeRequestsPerSecond and takes the usage plan and webhook limits as given', () => {
    const { template } = synthesize({
      stripeRequestsPerSecond: '100',
      apiRequestsPerSecond: '400',
      apiBurst: '500',
      getRequestsPerSecond: '40',
      webhookRequestsPerSecond: '300',
    });
    const budget = stripeBudgetOf(100);
    expect(stageThrottles(template)).toEqual({
      'POST /payments': { rate: budget.syncCharges.rateLimit, burst: budget.syncCharges.burstLimit },
      'POST /payments/{orderId}/refunds': { rate: budget.refunds.rateLimit, burst: budget.refunds.burstLimit },
      'POST /webhooks/stripe': { rate: 300, burst: 300 },
    });
    // A burst left unset is two seconds of its rate.
    expect(usagePlan(template)).toEqual({
      throttle: { RateLimit: 400, BurstLimit: 500 },
      methods: { '/payments/{orderId}/GET': { RateLimit: 40, BurstLimit: 80 } },
    });
  });

  it('limits GET to half the key, unless set', () => {
    const { template } = synthesize({ apiRequestsPerSecond: '20' });
    expect(usagePlan(template).methods).toEqual({ '/payments/{orderId}/GET': { RateLimit: 10, BurstLimit: 20 } });
  });

  it('reserves each function the concurrency admission.ts sizes from the budget, with -c reservedConcurrency=true', () => {
    const { stack } = synthesize({ reservedConcurrency: 'true', stripeRequestsPerSecond: '100' });
    const budget = stripeBudgetOf(100);
    const expected = reservedConcurrencyOf(budget, admissionSettingsOf(budget));
    expect(reservations(stack)).toEqual(expected);
    expect(expected).toMatchObject({ chargePayment: 120, refundPayment: 30, chargeWorker: budget.worker.maxConcurrency });
    // Synth says what the account must allow, before a deploy fails on it.
    Annotations.fromStack(stack).hasInfo('*', Match.stringLikeRegexp(`must be at least ${requiredAccountConcurrency(expected)}$`));
  });

  it('puts a WAF web ACL with a per-IP rate-based rule in front of the stage, with -c waf=true', () => {
    const { template } = synthesize({ waf: 'true', wafRequestsPerIpPerMinute: '6000' });
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({
          Statement: { RateBasedStatement: { AggregateKeyType: 'IP', Limit: 6000, EvaluationWindowSec: 60 } },
          Action: { Block: { CustomResponse: Match.objectLike({ ResponseCode: 429, ResponseHeaders: [{ Name: 'Retry-After', Value: '60' }] }) } },
        }),
      ],
    });
    const [stageId] = Object.keys(template.findResources('AWS::ApiGateway::Stage'));
    const [association] = resources(template, 'AWS::WAFv2::WebACLAssociation');
    expect(JSON.stringify(association.Properties.ResourceArn)).toContain(stageId);
  });

  it('traces the share -c xraySamplingRate sets of the API stage, and what it invokes, with an X-Ray sampling rule', () => {
    const { stack, template } = synthesize({ xraySamplingRate: '0.05' });
    const [stageId] = Object.keys(template.findResources('AWS::ApiGateway::Stage'));
    template.hasResourceProperties('AWS::XRay::SamplingRule', {
      SamplingRule: Match.objectLike({
        FixedRate: 0.05,
        ReservoirSize: 1,
        ServiceType: 'AWS::ApiGateway::Stage',
        // API Gateway's service in X-Ray is `<API name>/<stage>`; the rule also names the stage's ARN.
        ServiceName: { 'Fn::Join': ['', [`${stack.stackName}/`, { Ref: stageId }]] },
        ResourceARN: { 'Fn::Join': ['', Match.arrayWith([{ Ref: stageId }])] },
        Priority: Match.anyValue(),
      }),
    });
  });

  it.each([
    [{ apiRequestsPerSecond: 'fast' }, /-c apiRequestsPerSecond must be a number, not "fast"/],
    [{ apiRequestsPerSecond: '0' }, /apiRequestsPerSecond must be a positive number/],
    [{ apiBurst: '2.5' }, /apiBurst must be a whole number/],
    [{ getRequestsPerSecond: '60' }, /getRequestsPerSecond \(60\) cannot be above apiRequestsPerSecond \(50\)/],
    [{ getBurst: '0' }, /getBurst must be a whole number of requests, at least 1/],
    [{ webhookRequestsPerSecond: '-1' }, /webhookRequestsPerSecond must be a positive number/],
    [{ reservedConcurrency: 'yes' }, /-c reservedConcurrency must be true or false, not "yes"/],
    [{ waf: 'on' }, /-c waf must be true or false/],
    [{ waf: 'true', wafRequestsPerIpPerMinute: '5' }, /wafRequestsPerIpPerMinute must be a whole number of at least 10/],
    [{ wafRequestsPerIpPerMinute: '600' }, /wafRequestsPerIpPerMinute sizes the WAF rule: it needs waf=true/],
    [{ xraySamplingRate: '5' }, /xraySamplingRate must be a share from 0 to 1/],
  ])('refuses %j, naming the setting', (context, error) => {
    expect(() => synthesize(context)).toThrow(error);
  });
});
