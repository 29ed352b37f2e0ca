import { Match } from 'aws-cdk-lib/assertions';
import { chargeRequestSchema } from '../../lambdas/contract/payment-request';
import { refundRequestSchema } from '../../lambdas/contract/refund-request';
import {
  API_INTEGRATION_TIMEOUT_SECONDS,
  CHARGE_FUNCTION_TIMEOUT_SECONDS,
  CHARGE_WORST_CASE_MS,
  COLD_START_ROOM_SECONDS,
} from '../../lambdas/contract/settings';
import { idempotencyTable, ledgerTable, PERSONAL_DATA_KEY_PREFIX } from '../../lambdas/contract/tables';
import { synthesize } from '../support/synth';

const { template } = synthesize({ sandbox: 'true' });

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

function logicalId(type: string, properties: Record<string, unknown>): string {
  const ids = Object.keys(template.findResources(type, { Properties: Match.objectLike(properties) }));
  expect(ids).toHaveLength(1);
  return ids[0];
}

const keyTableId = logicalId('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: idempotencyTable.partitionKey, KeyType: 'HASH' }] });
const ledgerId = logicalId('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: ledgerTable.partitionKey, KeyType: 'HASH' }] });
const functionId = logicalId('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^POST /payments:') });
const workerId = logicalId('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^Charges queued orders') });

/** Every statement of the policies attached to a function's role, with its actions as a sorted list. */
function statementsOf(lambdaId: string): Array<{ actions: string[]; resource: unknown; effect: string; condition?: unknown }> {
  const roleId = template.toJSON().Resources[lambdaId].Properties.Role['Fn::GetAtt'][0];
  expect(template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .map((statement) => ({
      actions: [statement.Action].flat().sort(),
      resource: statement.Resource,
      effect: statement.Effect,
      condition: statement.Condition,
    }));
}

/** What the statements allow on one service's resources (denials are asserted on their own). */
const byService = (statements: ReturnType<typeof statementsOf>, prefix: string) =>
  statements
    .filter((statement) => statement.effect === 'Allow' && statement.actions.some((action) => action.startsWith(prefix)))
    .map(({ actions, resource }) => [actions, resource]);

describe('tables', () => {
  it('has a key table keyed on id with TTL on expiration, on demand, PITR and encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('has a permanent ledger keyed on orderId: no TTL, PITR, encryption', () => {
    const ledger = template.toJSON().Resources[ledgerId].Properties;
    expect(ledger).toMatchObject({
      KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(ledger.TimeToLiveSpecification).toBeUndefined();
  });

  it('destroys data with a sandbox stack and keeps it (deletion-protected) otherwise', () => {
    const sandbox = template.toJSON().Resources[ledgerId];
    expect(sandbox.DeletionPolicy).toBe('Delete');
    const kept = synthesize().template.findResources('AWS::DynamoDB::Table');
    for (const table of Object.values(kept)) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    }
  });
});

describe('charge function', () => {
  const fn = template.toJSON().Resources[functionId].Properties;

  it('runs Node.js 22 on arm64 with active tracing and its own log group', () => {
    expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
    expect(fn.LoggingConfig.LogGroup).toEqual({ Ref: expect.any(String) });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('has a timeout that covers every remote call at its worst (Stripe with retries, DynamoDB, Secrets Manager) and ends before API Gateway gives up', () => {
    expect(fn.Timeout).toBe(CHARGE_FUNCTION_TIMEOUT_SECONDS);
    expect(fn.Timeout * 1000).toBeGreaterThan(CHARGE_WORST_CASE_MS);
    expect(fn.Timeout).toBeLessThan(API_INTEGRATION_TIMEOUT_SECONDS);
    // A cold start's init counts against API Gateway's 29 s but not against the function's timeout.
    expect(API_INTEGRATION_TIMEOUT_SECONDS - fn.Timeout).toBeGreaterThanOrEqual(COLD_START_ROOM_SECONDS);
  });

  it('runs every function that talks to Stripe in one namespace: the one given as context, or one unique to the deployment', () => {
    const namespaces = (resources: ReturnType<typeof template.toJSON>['Resources']) =>
      Object.values(resources as Record<string, { Type: string; Properties: { Description?: string; Environment?: { Variables: Record<string, unknown> } } }>)
        .filter((resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Environment?.Variables.STRIPE_SECRET_ID !== undefined)
        .map((resource) => resource.Properties.Environment?.Variables.PAYMENTS_NAMESPACE);
    // By default the stack name, account and region: no other deployment can have it.
    const byDefault = { 'Fn::Join': ['', ['ExactlyOncePaymentsSandbox-', { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }]] };
    // The charge, worker, refund, webhook, reconciler, audit and catch-up functions: every one that talks to Stripe.
    expect(namespaces(template.toJSON().Resources)).toEqual(Array(7).fill(byDefault));
    expect(namespaces(synthesize({ namespace: 'alice-sandbox' }).template.toJSON().Resources)).toEqual(Array(7).fill('alice-sandbox'));
    expect(() => synthesize({ namespace: 'has:colon' })).toThrow(/namespace/);
  });

  it('may decrypt existing secrets with their customer-managed key (-c secretsKmsKeyArn), through Secrets Manager only, in every function that reads one', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { template: withKey } = synthesize({ stripeSecretName: 'prod/stripe', stripeWebhookSecretName: 'prod/whsec', secretsKmsKeyArn: keyArn });
    const decrypts = Object.values(withKey.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown; Condition?: unknown }>)
      .filter((statement) => statement.Action === 'kms:Decrypt');
    expect(decrypts).toHaveLength(7); // charge, worker, refund, webhook, reconciler, audit, catch-up
    for (const statement of decrypts) {
      expect(statement).toMatchObject({
        Resource: keyArn,
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
      });
    }
    expect(JSON.stringify(template.toJSON())).not.toContain('kms:Decrypt');
  });

  it('traces every function without ever recording an answer or an error (client secrets, Stripe error objects)', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(10);
    for (const fn of functions) {
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.Environment.Variables).toMatchObject({ POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false', POWERTOOLS_TRACER_CAPTURE_ERROR: 'false' });
    }
  });

  it('gets table names, the secret name and Powertools settings from the environment, never the key', () => {
    const variables = fn.Environment.Variables;
    expect(variables).toMatchObject({
      IDEMPOTENCY_TABLE_NAME: { Ref: keyTableId },
      LEDGER_TABLE_NAME: { Ref: ledgerId },
      POWERTOOLS_SERVICE_NAME: 'payments',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      STRIPE_SECRET_ID: expect.anything(),
    });
    expect(JSON.stringify(variables)).not.toMatch(/sk_(test|live)_/);
  });

  it('may only touch its two tables (item actions it needs), its one secret, its log group and X-Ray', () => {
    const statements = statementsOf(functionId);
    expect(statements.every((statement) => statement.effect === 'Allow')).toBe(true);
    expect(byService(statements, 'dynamodb:')).toEqual([
      [['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], { 'Fn::GetAtt': [keyTableId, 'Arn'] }],
      [['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], { 'Fn::GetAtt': [ledgerId, 'Arn'] }],
    ]);
    const secretId = logicalId('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('Stripe secret API key') });
    expect(byService(statements, 'secretsmanager:')).toEqual([[['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], { Ref: secretId }]]);
    expect(byService(statements, 'logs:').map(([, resource]) => resource)).toEqual([{ 'Fn::GetAtt': [fn.LoggingConfig.LogGroup.Ref, 'Arn'] }]);
    expect(byService(statements, 'xray:').map(([actions]) => actions)).toEqual([['xray:PutTelemetryRecords', 'xray:PutTraceSegments']]);
    const known = ['dynamodb:', 'secretsmanager:', 'logs:', 'xray:'];
    expect(statements.flatMap((s) => s.actions).filter((a) => !known.some((prefix) => a.startsWith(prefix)))).toEqual([]);
  });
});

describe('queue worker', () => {
  it('has the same table and secret permissions as the API function: it runs the same charge', () => {
    for (const service of ['dynamodb:', 'secretsmanager:']) {
      expect(byService(statementsOf(workerId), service)).toEqual(byService(statementsOf(functionId), service));
    }
  });
});

describe('API', () => {
  it('routes POST /payments to the charge function behind an API key and the shared body model', () => {
    const modelId = logicalId('AWS::ApiGateway::Model', { Name: 'ChargeRequest' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      ApiKeyRequired: true,
      AuthorizationType: 'NONE',
      RequestValidatorId: { Ref: logicalId('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true }) },
      RequestModels: { 'application/json': { Ref: modelId } },
      Integration: {
        Type: 'AWS_PROXY',
        TimeoutInMillis: API_INTEGRATION_TIMEOUT_SECONDS * 1000,
        Uri: { 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [functionId, 'Arn'] }])] },
      },
    });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'payments' });
  });

  it('validates bodies with the very schemas the Lambdas validate with', () => {
    const models = Object.values(template.findResources('AWS::ApiGateway::Model')).map((m) => [m.Properties.Name, m.Properties.Schema]);
    expect(Object.fromEntries(models)).toEqual({ ChargeRequest: chargeRequestSchema, RefundRequest: refundRequestSchema });
  });

  it.each([
    ['BAD_REQUEST_BODY', 'invalid_request'],
    ['REQUEST_TOO_LARGE', 'payload_too_large'],
    ['DEFAULT_4XX', 'request_refused'],
    ['DEFAULT_5XX', 'gateway_error'],
  ])('answers %s raised by API Gateway itself as valid JSON in the contract shape', (type, code) => {
    const [response] = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: type } }));
    // API Gateway substitutes $context.error.messageString with the message already in quotes.
    const rendered = response.Properties.ResponseTemplates['application/json'].replace('$context.error.messageString', '"Invalid \\"request\\" body"');
    expect(JSON.parse(rendered)).toEqual({ error: { code, message: 'Invalid "request" body' } });
  });

  it('throttles through a usage plan bound to the API key (its limits: admission.test.ts)', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 50, BurstLimit: 100 } });
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  it('writes access logs and traces the stage; no execution logs, and no account-wide role, unless asked', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      TracingEnabled: true,
      MethodSettings: Match.arrayWith([Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'OFF', DataTraceEnabled: false })]),
    });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  it("creates the account's API Gateway CloudWatch role only with -c apiGatewayCloudWatchRole=true, and keeps it when the stack goes", () => {
    for (const sandbox of ['true', 'false']) {
      const created = synthesize({ sandbox, apiGatewayCloudWatchRole: 'true' }).template;
      const [account] = Object.values(created.findResources('AWS::ApiGateway::Account'));
      expect(account).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      created.hasResourceProperties('AWS::ApiGateway::Stage', {
        MethodSettings: Match.arrayWith([Match.objectLike({ ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false })]),
      });
    }
  });

  it("writes execution logs with the account's own role given -c apiGatewayExecutionLogs=true, without touching it", () => {
    const existing = synthesize({ apiGatewayExecutionLogs: 'true' }).template;
    existing.resourceCountIs('AWS::ApiGateway::Account', 0);
    existing.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ResourcePath: '/*', LoggingLevel: 'ERROR' })]),
    });
  });

  it('outputs the API URL and the command that prints the API key', () => {
    const outputs = template.toJSON().Outputs;
    const names = Object.keys(outputs);
    expect(names.some((name) => name.includes('ApiUrl'))).toBe(true);
    const command = Object.entries(outputs).find(([name]) => name.includes('GetApiKeyCommand'))?.[1] as { Value: unknown };
    expect(JSON.stringify(command.Value)).toContain('aws apigateway get-api-key --api-key');
  });
});

describe('Stripe secret', () => {
  it('is created by the stack when no name is given, apart from the webhook signing secret', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    logicalId('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('Stripe secret API key') });
    logicalId('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('webhook signing secret') });
  });

  it('is taken by name from context, and only that secret is readable', () => {
    const imported = synthesize({ stripeSecretName: 'payments/stripe', stripeWebhookSecretName: 'payments/stripe-webhook' }).template;
    imported.resourceCountIs('AWS::SecretsManager::Secret', 0);
    imported.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STRIPE_SECRET_ID: 'payments/stripe' }) },
    });
    imported.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':secret:payments/stripe-\\?\\?\\?\\?\\?\\?')])] },
          }),
        ]),
      },
    });
  });
});

describe('Stripe webhook', () => {
  const webhookId = logicalId('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^POST /webhooks/stripe') });

  it('is routed without an API key, without a body model, as a proxy integration that passes the raw body', () => {
    const resourceId = logicalId('AWS::ApiGateway::Resource', { PathPart: 'stripe' });
    const [method] = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { ResourceId: { Ref: resourceId } } }));
    expect(method.Properties).toMatchObject({ HttpMethod: 'POST', ApiKeyRequired: false, Integration: { Type: 'AWS_PROXY' } });
    expect(method.Properties.RequestModels).toBeUndefined();
    expect(method.Properties.RequestValidatorId).toBeUndefined();
    expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(webhookId);
    // No binary media types: API Gateway hands the JSON body over as the very text Stripe signed.
    const [api] = Object.values(template.findResources('AWS::ApiGateway::RestApi'));
    expect(api.Properties.BinaryMediaTypes).toBeUndefined();
  });

  it('may only read and update the ledger, use its event keys, and read the two Stripe secrets', () => {
    const statements = statementsOf(webhookId);
    expect(byService(statements, 'dynamodb:')).toEqual([
      [['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], { 'Fn::GetAtt': [keyTableId, 'Arn'] }],
      [['dynamodb:GetItem', 'dynamodb:UpdateItem'], { 'Fn::GetAtt': [ledgerId, 'Arn'] }],
    ]);
    const apiKeySecret = logicalId('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('Stripe secret API key') });
    const signingSecret = logicalId('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('webhook signing secret') });
    expect(byService(statements, 'secretsmanager:').map(([, resource]) => resource)).toEqual([{ Ref: apiKeySecret }, { Ref: signingSecret }]);
    const known = ['dynamodb:', 'secretsmanager:', 'logs:', 'xray:'];
    expect(statements.flatMap((s) => s.actions).filter((a) => !known.some((prefix) => a.startsWith(prefix)))).toEqual([]);
  });

  it('names the signing secret in its environment, never its value', () => {
    const variables = template.toJSON().Resources[webhookId].Properties.Environment.Variables;
    expect(variables.STRIPE_WEBHOOK_SECRET_ID).toBeDefined();
    expect(JSON.stringify(variables)).not.toContain('whsec_');
  });
});

describe("the orders' personal data in the key table", () => {
  const functionIdOf = (description: string) => logicalId('AWS::Lambda::Function', { Description: Match.stringLikeRegexp(`^${description}`) });
  const personalDataDenied = (lambdaId: string) =>
    statementsOf(lambdaId).some(
      ({ effect, resource, condition }) =>
        effect === 'Deny' &&
        JSON.stringify(resource) === JSON.stringify({ 'Fn::GetAtt': [keyTableId, 'Arn'] }) &&
        JSON.stringify(condition) === JSON.stringify({ 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [`${PERSONAL_DATA_KEY_PREFIX}*`] } }),
    );

  it('is out of reach of the refund, webhook and events catch-up functions, which never need it', () => {
    for (const description of ['POST /payments/\\{orderId\\}/refunds', 'POST /webhooks/stripe'])
      expect(personalDataDenied(functionIdOf(description))).toBe(true);
    const catchUp = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('EventsCatchUp'));
    expect(catchUp).toHaveLength(1);
    expect(personalDataDenied(catchUp[0])).toBe(true);
  });

  it('is kept and read by the charge functions', () => {
    expect(personalDataDenied(functionId)).toBe(false);
    expect(personalDataDenied(workerId)).toBe(false);
  });
});
