import { Match } from 'aws-cdk-lib/assertions';
import { AUDIT_TASKS, auditWorkflowDefinition } from '../../lambdas/contract/audit-workflow';
import { ENV, METRIC_NAMES, METRICS_NAMESPACE } from '../../lambdas/contract/environment';
import { DAILY_AUDIT_WINDOW, PENDING_GRACE_SECONDS, RECONCILER_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { createdIndex, ledgerTable, pendingIndex, retiredCreatedIndex, unsettledRefundsIndex } from '../../lambdas/contract/tables';
import { synthesize } from '../support/synth';

const { template } = synthesize({ sandbox: 'true' });
// biome-ignore lint/suspicious/noExplicitAny: a template is untyped JSON; the assertions check its shape
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;

function only(type: string, properties: Record<string, unknown>): string {
  const ids = Object.keys(template.findResources(type, { Properties: Match.objectLike(properties) }));
  expect(ids).toHaveLength(1);
  return ids[0];
}

const ledgerId = only('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: ledgerTable.partitionKey, KeyType: 'HASH' }] });
const reconcilerId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^Settles orders left pending') });
const auditId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^Compares this deployment') });
const planId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp("^Cuts the audit's window") });
const verdictId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp("^Adds up the audit's slices") });
const topicId = () => Object.keys(template.findResources('AWS::SNS::Topic'))[0];

/** The DynamoDB statements of a function's role. */
function dynamoDbStatements(functionId: string) {
  const roleId = resources[functionId].Properties.Role['Fn::GetAtt'][0];
  return (
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Effect: string }>)
      // What the role may do: its denials (the orders' personal data) are asserted in payments-stack.test.ts.
      .filter((statement) => statement.Effect === 'Allow' && [statement.Action].flat().some((action) => action.startsWith('dynamodb:')))
  );
}

describe('the reconciler', () => {
  it('finds pending orders through a sparse index of the ledger (pending shard, latest attempt), never a scan', () => {
    const key = ({ partitionKey, sortKey }: typeof pendingIndex) => [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ];
    expect(resources[ledgerId].Properties.GlobalSecondaryIndexes).toEqual([
      { IndexName: pendingIndex.indexName, KeySchema: key(pendingIndex), Projection: { ProjectionType: 'ALL' } },
      // Keys only, which never change: finalize and webhook updates do not write it.
      { IndexName: createdIndex.indexName, KeySchema: key(createdIndex), Projection: { ProjectionType: 'KEYS_ONLY' } },
      // Orders with a refund still open at Stripe: keys only, the reconciler reads each record itself.
      { IndexName: unsettledRefundsIndex.indexName, KeySchema: key(unsettledRefundsIndex), Projection: { ProjectionType: 'KEYS_ONLY' } },
    ]);
  });

  it('can be deployed one index at a time (-c ledgerIndexes=1), as CloudFormation requires to upgrade a ledger that has none', () => {
    const { template: firstStep } = synthesize({ sandbox: 'true', ledgerIndexes: '1' });
    const [ledger] = Object.values(
      firstStep.findResources('AWS::DynamoDB::Table', {
        Properties: Match.objectLike({ KeySchema: [{ AttributeName: ledgerTable.partitionKey, KeyType: 'HASH' }] }),
      }),
    );
    expect(ledger.Properties.GlobalSecondaryIndexes.map((index: { IndexName: string }) => index.IndexName)).toEqual([pendingIndex.indexName]);
  });

  it('refuses a -c ledgerIndexes that is not a whole number of its indexes (it would drop them all)', () => {
    for (const value of ['two', '-1', '1.5', '4']) expect(() => synthesize({ ledgerIndexes: value })).toThrow(/ledgerIndexes/);
  });

  it('is a function with the grace period, the ledger and the namespace in its environment', () => {
    expect(resources[reconcilerId].Properties).toMatchObject({
      Timeout: RECONCILER_TIMEOUT_SECONDS,
      Environment: {
        Variables: {
          [ENV.pendingGraceSeconds]: String(PENDING_GRACE_SECONDS),
          [ENV.ledgerTableName]: { Ref: ledgerId },
          [ENV.namespace]: expect.anything(),
          [ENV.stripeSecretId]: expect.anything(),
        },
      },
    });
  });

  it('may query the pending and unsettled-refunds indexes, and read and update the ledger, and nothing else in DynamoDB', () => {
    const onIndex = (indexName: string) =>
      expect.objectContaining({ Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ledgerId, 'Arn'] }, `/index/${indexName}`]] } });
    expect(dynamoDbStatements(reconcilerId)).toEqual([
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: { 'Fn::GetAtt': [ledgerId, 'Arn'] } }),
      onIndex(pendingIndex.indexName),
      onIndex(unsettledRefundsIndex.indexName),
    ]);
  });

  it('runs every 5 minutes, and a failed run is not retried on top of the next one', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [reconcilerId, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: reconcilerId }, MaximumRetryAttempts: 0 });
  });

  it('alarms to the alarm topic when a run fails', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: reconcilerId } }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topicId() }],
    });
  });

  it('names itself in an output, for `npm run reconcile`', () => {
    template.hasOutput('ReconcilerFunctionName', { Value: { Ref: reconcilerId } });
  });
});

describe('the daily audit', () => {
  const machineId = only('AWS::StepFunctions::StateMachine', {});
  /** The definition as deployed, its function ARNs resolved back to the functions' logical IDs. */
  const definition = () => {
    const [, parts] = resources[machineId].Properties.DefinitionString['Fn::Join'];
    const text = (parts as Array<string | { 'Fn::GetAtt': [string, string] }>)
      .map((part) => (typeof part === 'string' ? part : part['Fn::GetAtt'][0]))
      .join('');
    return JSON.parse(text);
  };

  it("reads a slice's keys from the created index, its records (BatchGetItem) and single records, and writes nothing", () => {
    expect(dynamoDbStatements(auditId)).toEqual([
      expect.objectContaining({ Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'], Resource: { 'Fn::GetAtt': [ledgerId, 'Arn'] } }),
      expect.objectContaining({
        Action: 'dynamodb:Query',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ledgerId, 'Arn'] }, `/index/${createdIndex.indexName}`]] },
      }),
    ]);
    expect(dynamoDbStatements(planId)).toEqual([]);
    expect(dynamoDbStatements(verdictId)).toEqual([]);
  });

  it('is the state machine defined in the contract: plan, a Map over the slices as wide as the budget allows, verdict', () => {
    const budget = stripeBudgetOf(25);
    expect(definition()).toEqual(auditWorkflowDefinition({ plan: planId, compare: auditId, verdict: verdictId }, budget.audit.maxConcurrency));
    const { template: busy } = synthesize({ sandbox: 'true', stripeRequestsPerSecond: '1430' });
    const busyMachine = Object.values(busy.findResources('AWS::StepFunctions::StateMachine'))[0];
    const busyText = (busyMachine.Properties.DefinitionString['Fn::Join'][1] as unknown[]).filter((part) => typeof part === 'string').join('');
    expect(busyText).toContain(`"MaxConcurrency":${stripeBudgetOf(1430).audit.maxConcurrency},`);
    expect(stripeBudgetOf(1430).audit.maxConcurrency).toBe(35);
  });

  it('logs every state to its own log group and is traced (AwsSolutions-SF1, SF2), and may invoke its three functions only', () => {
    expect(resources[machineId].Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: expect.anything() } }] },
    });
    const roleId = resources[machineId].Properties.RoleArn['Fn::GetAtt'][0];
    const invokes = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>)
      .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('lambda:')));
    expect(invokes).toEqual([
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        Resource: [planId, auditId, verdictId].map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
      }),
    ]);
  });

  it('starts daily, and alarms to the topic on any difference and on a failed or timed-out run', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      // A day and an hour, up to half an hour ago: consecutive runs overlap, and no order being settled is judged.
      Targets: [Match.objectLike({ Arn: { Ref: machineId }, Input: JSON.stringify(DAILY_AUDIT_WINDOW) })],
    });
    expect(resources[auditId].Properties.Environment.Variables).toMatchObject({ [ENV.namespace]: expect.anything() });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC_NAMES.auditDiscrepancies,
      Dimensions: [
        { Name: 'deployment', Value: resources[auditId].Properties.Environment.Variables[ENV.namespace] },
        { Name: 'service', Value: 'payments' },
      ],
      Statistic: 'Maximum',
      Period: 86_400,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: topicId() }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'failed + timedOut' }),
        Match.objectLike({ Id: 'failed', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsFailed' }) }) }),
        Match.objectLike({ Id: 'timedOut', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsTimedOut' }) }) }),
      ]),
      AlarmActions: [{ Ref: topicId() }],
    });
    template.hasOutput('AuditStateMachineArn', { Value: { Ref: machineId } });
    expect(Object.keys(template.findOutputs('AuditFunctionName'))).toEqual([]);
  });

  it('names its steps as the local runtime binds them, each waiting longer than its function may run (not the default 60 s)', () => {
    const { States } = definition();
    expect(Object.keys(States)).toEqual([AUDIT_TASKS.plan, 'CompareSlices', AUDIT_TASKS.verdict]);
    const tasks: Array<[{ TimeoutSeconds: number }, string]> = [
      [States[AUDIT_TASKS.plan], planId],
      [States.CompareSlices.ItemProcessor.States[AUDIT_TASKS.compare], auditId],
      [States[AUDIT_TASKS.verdict], verdictId],
    ];
    for (const [task, functionId] of tasks) expect(task.TimeoutSeconds).toBeGreaterThan(resources[functionId].Properties.Timeout);
  });
});

describe("the created index's upgrade to keys only (-c keepCreatedByDay=true)", () => {
  const gsisOf = (context: Record<string, string>) =>
    (
      Object.values(
        synthesize({ sandbox: 'true', ...context }).template.findResources('AWS::DynamoDB::Table', {
          Properties: Match.objectLike({ KeySchema: [{ AttributeName: ledgerTable.partitionKey, KeyType: 'HASH' }] }),
        }),
      )[0].Properties.GlobalSecondaryIndexes as Array<{ IndexName: string; Projection: { ProjectionType: string } }>
    ).map(({ IndexName, Projection }) => `${IndexName}:${Projection.ProjectionType}`);
  /** Indexes created or deleted between two templates: CloudFormation refuses an update with more than one. */
  const changes = (before: string[], after: string[]) => [...before.filter((i) => !after.includes(i)), ...after.filter((i) => !before.includes(i))];
  /** The ledger's indexes as the previous version deployed them. */
  const deployed = [`${pendingIndex.indexName}:ALL`, `${retiredCreatedIndex.indexName}:ALL`, `${unsettledRefundsIndex.indexName}:KEYS_ONLY`];

  it('takes two deploys of one index change each: add the keys-only index keeping the old, then drop the old', () => {
    const keeping = gsisOf({ keepCreatedByDay: 'true' });
    const plain = gsisOf({});
    expect(changes(deployed, keeping)).toEqual([`${createdIndex.indexName}:KEYS_ONLY`]);
    expect(changes(keeping, plain)).toEqual([`${retiredCreatedIndex.indexName}:ALL`]);
  });

  it('would ask CloudFormation for two index changes in one update if a deployed stack skipped the flag (refused: the upgrade notes say to use it)', () => {
    expect(changes(deployed, gsisOf({}))).toHaveLength(2);
  });

  it('still lets a ledger without indexes take them one deploy at a time', () => {
    let previous: string[] = [];
    for (const step of [{ ledgerIndexes: '1' }, { ledgerIndexes: '2' }, {}] as Array<Record<string, string>>) {
      const next = gsisOf(step);
      expect(changes(previous, next)).toHaveLength(1);
      previous = next;
    }
  });
});

describe('the Events API catch-up', () => {
  const catchUpId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^Applies the Stripe events a webhook missed') });
  const keyTableId = only('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] });

  it("uses the webhook's event keys and checkpoint in the key table, and reads and updates the ledger as the webhook does", () => {
    expect(dynamoDbStatements(catchUpId).map(({ Action, Resource }) => ({ actions: [Action].flat().sort(), Resource }))).toEqual([
      { actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], Resource: { 'Fn::GetAtt': [keyTableId, 'Arn'] } },
      { actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: { 'Fn::GetAtt': [ledgerId, 'Arn'] } },
    ]);
    expect(resources[catchUpId].Properties.Environment.Variables).toMatchObject({
      [ENV.namespace]: expect.anything(),
      [ENV.stripeSecretId]: expect.anything(),
    });
  });

  it('runs every 5 minutes, alarms when a run fails, and names itself for `npm run events:catch-up`', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [catchUpId, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: catchUpId }, MaximumRetryAttempts: 0 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: catchUpId } }],
      AlarmActions: [{ Ref: topicId() }],
    });
    template.hasOutput('EventsCatchUpFunctionName', { Value: { Ref: catchUpId } });
  });
});
