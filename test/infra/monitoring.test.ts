import { Match } from 'aws-cdk-lib/assertions';
import { ENV, METRIC_NAMES, METRICS_NAMESPACE } from '../../lambdas/contract/environment';
import { API_5XX_RATE_ALARM, DURATION_ALARM_SHARE } from '../../lib/constructs/monitoring';
import { synthesize } from '../support/synth';

const { template } = synthesize({ sandbox: 'true' });
// biome-ignore lint/suspicious/noExplicitAny: a template is untyped JSON; the assertions check its shape
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
const alarms = Object.values(resources)
  .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
  .map((r) => r.Properties);
const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
const functionIds = Object.entries(resources)
  .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
  .map(([id]) => id);
// What every function publishes its metrics for (PAYMENTS_NAMESPACE): the deployment dimension its alarms must read.
const publishing = functionIds.filter((id) => resources[id].Properties.Environment?.Variables?.[ENV.namespace] !== undefined);
const deployments = new Set(publishing.map((id) => JSON.stringify(resources[id].Properties.Environment.Variables[ENV.namespace])));
const [deployment] = [...deployments].map((value) => JSON.parse(value));
const onFunction = (metricName: string, functionId: string) =>
  alarms.filter((a) => a.MetricName === metricName && a.Dimensions?.[0]?.Value?.Ref === functionId);

describe('alarms', () => {
  it('every one notifies the alarm topic', () => {
    expect(alarms.length).toBeGreaterThan(20);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it("every function alarms on errors (once; the audit's steps through their state machine), throttles, and a run longer than 80% of its timeout", () => {
    expect(functionIds).toHaveLength(10);
    // A step's error is retried by the state machine; a run that fails anyway is its alarm (scheduled-functions.test.ts).
    const auditSteps = functionIds.filter((id) => id.startsWith('Audit'));
    expect(auditSteps).toHaveLength(3);
    for (const id of functionIds) {
      expect(onFunction('Errors', id)).toEqual(
        auditSteps.includes(id) ? [] : [expect.objectContaining({ Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' })],
      );
      expect(onFunction('Throttles', id)).toEqual([expect.objectContaining({ Statistic: 'Sum', Threshold: 1 })]);
      expect(onFunction('Duration', id)).toEqual([
        expect.objectContaining({ Statistic: 'Maximum', Threshold: resources[id].Properties.Timeout * 1000 * DURATION_ALARM_SHARE }),
      ]);
    }
  });

  it('the API alarms when more than 5% of requests on stage v1 answer 5xx', () => {
    const [stageId] = Object.keys(template.findResources('AWS::ApiGateway::Stage', { Properties: Match.objectLike({ StageName: 'v1' }) }));
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: Match.arrayWith([{ Name: 'Stage', Value: { Ref: stageId } }]),
      Statistic: 'Average',
      Threshold: API_5XX_RATE_ALARM,
    });
  });

  it('both tables alarm on throttled requests and on system errors', () => {
    const tableIds = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
      .map(([id]) => id);
    for (const tableId of tableIds) {
      for (const metricName of ['ThrottledRequests', 'SystemErrors']) {
        const matching = alarms.filter((a) => JSON.stringify(a.Metrics ?? []).includes(metricName) && JSON.stringify(a.Metrics).includes(tableId));
        expect(matching).toEqual([expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' })]);
      }
    }
  });

  it.each([METRIC_NAMES.webhookConflict, METRIC_NAMES.webhookUnknownOrder, METRIC_NAMES.refundFailed, METRIC_NAMES.disputeOpened])(
    'alarms on %s above 0',
    (metricName) => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRICS_NAMESPACE,
        MetricName: metricName,
        Statistic: 'Sum',
        Threshold: 1,
        Dimensions: [
          { Name: 'deployment', Value: deployment },
          { Name: 'service', Value: 'payments' },
        ],
      });
    },
  );

  it("read the service's metrics of this deployment only: the dimension every function publishes with, which another stack's differs from", () => {
    expect(publishing).toHaveLength(8); // every function that counts outcomes (getPayment and the audit's plan count none)
    expect(deployments.size).toBe(1);
    expect(deployment).toBeDefined();
    const own = alarms.filter((alarm) => alarm.Namespace === METRICS_NAMESPACE);
    expect(own.length).toBeGreaterThanOrEqual(3);
    expect(
      own.filter(
        ({ Dimensions }) =>
          JSON.stringify(Dimensions) !==
          JSON.stringify([
            { Name: 'deployment', Value: deployment },
            { Name: 'service', Value: 'payments' },
          ]),
      ),
    ).toEqual([]);
    const other = synthesize({ sandbox: 'true', stackName: 'AliceSandbox' }).template.toJSON().Resources as typeof resources;
    const otherDeployment = Object.values(other).find(({ Type }) => Type === 'AWS::Lambda::Function')?.Properties.Environment?.Variables?.[ENV.namespace];
    expect(JSON.stringify(otherDeployment)).not.toBe(JSON.stringify(deployment));
  });
});

describe('the Stripe rate-limit alarm', () => {
  it('fires after 15 minutes of rate limits (three 5-minute periods), which the backlog alarm cannot see: re-sent messages are new', () => {
    const [rateLimited] = alarms.filter((a) => a.MetricName === METRIC_NAMES.providerRateLimited);
    expect(rateLimited).toMatchObject({ Namespace: METRICS_NAMESPACE, Statistic: 'Sum', Period: 300, EvaluationPeriods: 3, Threshold: 1 });
    expect(rateLimited.AlarmDescription).toContain('stripeRequestsPerSecond');
  });
});

describe('the dashboard', () => {
  const body = JSON.stringify(Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')?.Properties.DashboardBody);

  it.each([
    ['API requests and errors of stage v1', '5XXError'],
    ["every function's concurrency", 'ConcurrentExecutions'],
    ['consumed table capacity', 'ConsumedWriteCapacityUnits'],
    ['the oldest queued message', 'ApproximateAgeOfOldestMessage'],
    ['the business metrics', METRIC_NAMES.charged],
    ['Stripe latency', METRIC_NAMES.stripeLatency],
    ['audit differences', METRIC_NAMES.auditDiscrepancies],
  ])('shows %s', (_what, metric) => {
    expect(body).toContain(metric);
  });

  it('is named in an output', () => {
    template.hasOutput('DashboardUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
  });
});

it("names in every alarm's operator command the stack it is about and its region, whatever the operator's shell would pick", () => {
  // A description with the region in it is an Fn::Join: read it as its JSON.
  const descriptions = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(({ Properties }) => JSON.stringify(Properties.AlarmDescription));
  const withCommands = descriptions.filter((description) => description.includes('npm run'));
  expect(withCommands.length).toBeGreaterThanOrEqual(5);
  const forThisStack = /AWS_REGION=",\{"Ref":"AWS::Region"\}," STACK_NAME=ExactlyOncePaymentsSandbox npm run/g;
  expect(withCommands.filter((description) => (description.match(/npm run/g) ?? []).length !== (description.match(forThisStack) ?? []).length)).toEqual([]);
});

it('plots dead letters by searching every failure code, the dimensions they are published with, of this deployment only', () => {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = JSON.stringify(dashboard.Properties.DashboardBody);
  expect(body).toContain(
    `SEARCH('{${METRICS_NAMESPACE},deployment,failureCode,service} MetricName=\\\\\\"${METRIC_NAMES.deadLettered}\\\\\\" deployment=\\\\\\"`,
  );
  // A plain series with the outcome dimensions only would name a metric nobody publishes.
  expect(body).not.toMatch(new RegExp(`\\\\"${METRICS_NAMESPACE}\\\\",\\\\"${METRIC_NAMES.deadLettered}\\\\"`));
});
