import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../lambdas/contract/environment';
import { queueRequest, queueResponses } from '../../lambdas/contract/queue-integration';
import { chargeQueue } from '../../lambdas/contract/queues';
import { stripeBudgetOf } from '../../lambdas/contract/stripe-budget';
import { synthesize } from '../support/synth';

const { template } = synthesize({ sandbox: 'true' });
// biome-ignore lint/suspicious/noExplicitAny: a template is untyped JSON; the assertions check its shape
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;

function only(type: string, properties: Record<string, unknown> = {}): string {
  const ids = Object.keys(template.findResources(type, { Properties: Match.objectLike(properties) }));
  expect(ids).toHaveLength(1);
  return ids[0];
}

const queues = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue');
const [queueId] = queues.find(([, r]) => r.Properties.RedrivePolicy) ?? [];
const [deadLetterId] = queues.find(([, r]) => !r.Properties.RedrivePolicy) ?? [];
const workerId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^Charges queued orders') });
const getPaymentId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^GET /payments') });
const refundPaymentId = only('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^POST /payments/\\{orderId\\}/refunds') });

function roleStatements(roleId: string) {
  return (
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Effect: string }>)
      // What the role may do: its denials (the orders' personal data) are asserted in payments-stack.test.ts.
      .filter((statement) => statement.Effect === 'Allow')
      .map((statement) => ({ actions: [statement.Action].flat().sort(), resource: statement.Resource }))
  );
}
const functionRole = (lambdaId: string) => resources[lambdaId].Properties.Role['Fn::GetAtt'][0] as string;

describe('charge queue and dead-letter queue', () => {
  it('are two encrypted queues, the first redriving to the second after maxReceiveCount (16) receives', () => {
    expect(queues).toHaveLength(2);
    expect(resources[queueId as string].Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterId, 'Arn'] }, maxReceiveCount: chargeQueue.maxReceiveCount },
    });
    expect(chargeQueue.maxReceiveCount).toBe(16);
    expect(resources[deadLetterId as string].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  it('keeps a queued order long past the backlog alarm, and a dead-lettered one at least a week (SQS keeps its first enqueue time)', () => {
    const day = 24 * 3600;
    const retention = resources[queueId as string].Properties.MessageRetentionPeriod as number;
    const deadLetterRetention = resources[deadLetterId as string].Properties.MessageRetentionPeriod as number;
    const alarmThreshold = template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ApproximateAgeOfOldestMessage' } });
    const [{ Properties: backlogAlarm }] = Object.values(alarmThreshold);
    expect(retention).toBe(chargeQueue.retentionDays * day);
    if (backlogAlarm.Threshold * 100 > retention) {
      throw new Error('the backlog alarm (oldestMessageAlarmSeconds) must fire long before the charge queue drops a message: lower it, or raise retentionDays');
    }
    if (retention + chargeQueue.deadLetterTimeToActDays * day > deadLetterRetention) {
      throw new Error(
        "a dead-lettered message keeps its first enqueue time: retentionDays + deadLetterTimeToActDays must not exceed deadLetterRetentionDays (at most 14, SQS's limit); lower retentionDays",
      );
    }
  });

  it('has a visibility timeout at least six times the worker timeout', () => {
    const visibility = resources[queueId as string].Properties.VisibilityTimeout;
    expect(visibility).toBeGreaterThanOrEqual(6 * resources[workerId].Properties.Timeout);
  });

  it('refuses requests without TLS on both queues', () => {
    for (const id of [queueId, deadLetterId]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });

  it('alarms as soon as one message is visible in the dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterId, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('alarms when queued charges wait more than 15 minutes, and every alarm notifies one TLS-only topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: chargeQueue.oldestMessageAlarmSeconds,
    });
    const [topicId, ...otherTopics] = Object.keys(template.findResources('AWS::SNS::Topic'));
    expect(otherTopics).toEqual([]);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it("lets CloudWatch publish this stack's alarms to the topic (its policy replaces the default one that would)", () => {
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: topicId },
            Condition: {
              ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', Match.arrayWith([':alarm:ExactlyOncePaymentsSandbox-*'])] } },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          }),
        ]),
      },
    });
  });

  it('subscribes the alarm email given in context', () => {
    synthesize({ alarmEmail: 'oncall@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('outputs the queue URLs and ARNs the operator commands read', () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    for (const name of ['ChargeQueueUrl', 'ChargeQueueArn', 'DeadLetterQueueUrl', 'DeadLetterQueueArn']) expect(outputs).toContain(name);
  });
});

describe('queue worker', () => {
  it('consumes the charge queue in batches with a batching window and partial batch responses', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: workerId },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      BatchSize: stripeBudgetOf().worker.batchSize,
      MaximumBatchingWindowInSeconds: chargeQueue.maxBatchingWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: stripeBudgetOf().worker.maxConcurrency },
    });
  });

  it('sizes the worker from the Stripe budget: enough charges in flight for its share, paced by it', () => {
    const [mapping] = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    const { worker } = stripeBudgetOf();
    expect(mapping.Properties.ScalingConfig.MaximumConcurrency * mapping.Properties.BatchSize).toBeGreaterThanOrEqual(Math.ceil(worker.requestsPerSecond));
    const workerFunction = resources[mapping.Properties.FunctionName.Ref];
    expect(workerFunction.Properties.Environment.Variables[ENV.stripeRequestsPerSecond]).toBe('25');
  });

  it("may consume its queue (delay a message's next delivery, send a rate-limited one again) and send to the dead-letter queue, beside what charging needs", () => {
    const statements = roleStatements(functionRole(workerId));
    const sqs = statements.filter((s) => s.actions.some((a) => a.startsWith('sqs:')));
    expect(sqs).toEqual([
      {
        actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
        resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
      },
      { actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], resource: { 'Fn::GetAtt': [deadLetterId, 'Arn'] } },
      { actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    ]);
    expect(resources[workerId].Properties.Environment.Variables).toMatchObject({
      DEAD_LETTER_QUEUE_URL: { Ref: deadLetterId },
      CHARGE_QUEUE_URL: { Ref: queueId },
    });
  });
});

describe('POST /payments/async', () => {
  const method = () => {
    const id = only('AWS::ApiGateway::Method', { Integration: Match.objectLike({ Type: 'AWS' }) });
    return resources[id].Properties;
  };

  it('is an API Gateway → SQS integration behind the API key and the shared body model', () => {
    expect(method()).toMatchObject({
      HttpMethod: 'POST',
      ApiKeyRequired: true,
      RequestModels: { 'application/json': { Ref: only('AWS::ApiGateway::Model', { Name: 'ChargeRequest' }) } },
      Integration: {
        IntegrationHttpMethod: 'POST',
        PassthroughBehavior: 'NEVER',
      },
    });
    const uriParts = method().Integration.Uri['Fn::Join'][1];
    expect(uriParts).toContain(':sqs:path/');
    expect(uriParts).toContainEqual({ 'Fn::GetAtt': [queueId, 'QueueName'] });
    // The contract's templates, which the local server renders too.
    expect(method().Integration.RequestTemplates).toEqual({ 'application/json': queueRequest.template });
    expect(method().Integration.RequestParameters).toEqual({
      'integration.request.header.Content-Type': "'application/x-www-form-urlencoded'",
      'integration.request.header.Accept': "'application/json'",
    });
    expect(method().Integration.IntegrationResponses).toEqual(
      queueResponses.map(({ statusCode, selectionPattern, template }) => ({
        StatusCode: String(statusCode),
        ...(selectionPattern !== undefined && { SelectionPattern: selectionPattern }),
        ResponseTemplates: { 'application/json': template },
      })),
    );
    expect(method().MethodResponses).toEqual([{ StatusCode: '202' }, { StatusCode: '400' }, { StatusCode: '503' }]);
  });

  it('sends with a role that may only send messages to the charge queue', () => {
    const roleId = method().Integration.Credentials['Fn::GetAtt'][0];
    expect(resources[roleId].Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'apigateway.amazonaws.com' });
    expect(roleStatements(roleId)).toEqual([{ actions: ['sqs:SendMessage'], resource: { 'Fn::GetAtt': [queueId, 'Arn'] } }]);
  });
});

describe('GET /payments/{orderId}', () => {
  it('is served by a function that may only read the ledger', () => {
    const ledgerId = only('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }] });
    const dynamodb = roleStatements(functionRole(getPaymentId)).filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')));
    expect(dynamodb).toEqual([{ actions: ['dynamodb:GetItem'], resource: { 'Fn::GetAtt': [ledgerId, 'Arn'] } }]);
    expect(resources[getPaymentId].Properties.Environment.Variables.STRIPE_SECRET_ID).toBeUndefined();
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      ApiKeyRequired: true,
      Integration: { Type: 'AWS_PROXY', Uri: { 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [getPaymentId, 'Arn'] }])] } },
    });
  });
});

describe('POST /payments/{orderId}/refunds', () => {
  it('is served by a function that reads the ledger and updates it conditionally, with the key table and the Stripe key', () => {
    const ledgerId = only('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }] });
    const keyTableId = only('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] });
    const dynamodb = roleStatements(functionRole(refundPaymentId)).filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')));
    expect(dynamodb).toEqual([
      { actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], resource: { 'Fn::GetAtt': [keyTableId, 'Arn'] } },
      { actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resource: { 'Fn::GetAtt': [ledgerId, 'Arn'] } },
    ]);
    expect(resources[refundPaymentId].Properties.Environment.Variables.STRIPE_SECRET_ID).toBeDefined();
    const refundModel = only('AWS::ApiGateway::Model', { Name: 'RefundRequest' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      ApiKeyRequired: true,
      RequestModels: { 'application/json': { Ref: refundModel } },
      Integration: { Type: 'AWS_PROXY', Uri: { 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [refundPaymentId, 'Arn'] }])] } },
    });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'refunds' });
  });
});
