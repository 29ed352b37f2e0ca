import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdempotencyAlreadyInProgressError, IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import { Logger } from '@aws-lambda-powertools/logger';
import Ajv2020 from 'ajv/dist/2020';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { LedgerReader } from '../../lambdas/adapters/dynamodb-ledger';
import type { IdempotentCharge, IdempotentRefund } from '../../lambdas/adapters/idempotent-use-cases';
import type { HandleStripeEvent, VerifyStripeEvent } from '../../lambdas/adapters/stripe-webhooks';
import { chargeRequestSchema, MAX_REQUEST_BODY_BYTES } from '../../lambdas/contract/payment-request';
import { QUEUED_STATUS, routes } from '../../lambdas/contract/routes';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import {
  InvalidSignatureError,
  OrderConflictError,
  OrderNotFoundError,
  OrderNotRefundableError,
  PaymentInProgressError,
  PaymentProviderError,
  PaymentProviderRateLimitedError,
  PaymentRejectedError,
  RefundConflictError,
  RefundExceedsPaymentError,
  StoreUnavailableError,
} from '../../lambdas/core/errors';
import type { PaymentEvent } from '../../lambdas/core/payment-events';
import type { RefundResult } from '../../lambdas/core/refund-order';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { createGetPaymentHandler } from '../../lambdas/handlers/get-payment';
import { createRefundPaymentHandler } from '../../lambdas/handlers/refund-payment';
import { createStripeWebhookHandler } from '../../lambdas/handlers/stripe-webhook';
import { lambdaContext } from '../../local/lambda-context';
import { version } from '../../package.json';
import { type OpenApiOperation, openApiDocument, openApiJson } from '../../scripts/openapi-document';
import { chargeResult } from '../support/charge-results';
import { synthesize } from '../support/synth';

const root = join(__dirname, '..', '..');
const document = openApiDocument();
const operation = (method: 'get' | 'post', path: string) => document.paths[path]?.[method] as OpenApiOperation;

describe('docs/openapi.json', () => {
  it('is what `npm run openapi` writes from lambdas/contract: run it when this fails', () => {
    expect(readFileSync(join(root, 'docs', 'openapi.json'), 'utf8')).toBe(openApiJson());
  });

  it("passes Redocly's recommended rules (redocly.yaml) without an error or a warning", async () => {
    const args = ['lint', 'docs/openapi.json', '--config', 'redocly.yaml', '--format', 'json'];
    // No network here: no telemetry, no update check. Its Node 20 deprecation banner on stderr is not a problem of the document.
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
    const { exitCode, stdout } = await new Promise<{ exitCode: unknown; stdout: string }>((resolve) => {
      execFile(join(root, 'node_modules', '.bin', 'redocly'), args, { cwd: root, env }, (error, out) => resolve({ exitCode: error?.code ?? 0, stdout: out }));
    });
    const report = JSON.parse(stdout) as { problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }> };
    const problems = report.problems.map(({ ruleId, message, location }) => `${ruleId} at ${location[0]?.pointer}: ${message}`);
    expect({ exitCode, problems }).toEqual({ exitCode: 0, problems: [] });
  }, 60_000);
});

describe('the OpenAPI document', () => {
  it('describes every route with its method, and nothing else', () => {
    const described = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    expect(described.sort()).toEqual(routes.map(({ method, path }) => `${method} ${path}`).sort());
    expect(operation('get', '/payments/{orderId}').parameters).toContainEqual(expect.objectContaining({ name: 'orderId', in: 'path', required: true }));
  });

  it("takes the charge request body as the contract's schema, less its draft-4 dialect", () => {
    const { $schema: _draft4, ...schema } = chargeRequestSchema;
    expect(document.components.schemas.ChargeRequest).toEqual(schema);
    expect(document.components.schemas.ChargeRequest).toMatchObject({ required: chargeRequestSchema.required, properties: chargeRequestSchema.properties });
    for (const route of routes) {
      const body = operation(route.method === 'GET' ? 'get' : 'post', route.path).requestBody;
      if (route.requestModel !== undefined)
        expect(body).toEqual({ required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${route.requestModel}` } } } });
      else expect(JSON.stringify(body ?? {})).not.toMatch(/ChargeRequest|RefundRequest/);
    }
  });

  it('asks for the API key exactly where the route requires one, and for the Stripe signature on the webhook', () => {
    expect(document.components.securitySchemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    for (const route of routes) {
      const { security, responses } = operation(route.method === 'GET' ? 'get' : 'post', route.path);
      expect({ route: route.path, security, refusesWithoutKey: '403' in responses }).toEqual({
        route: route.path,
        security: route.apiKeyRequired ? [{ apiKey: [] }] : [],
        refusesWithoutKey: route.apiKeyRequired,
      });
    }
    expect(operation('post', '/webhooks/stripe').parameters).toContainEqual(
      expect.objectContaining({ name: 'Stripe-Signature', in: 'header', required: true }),
    );
  });

  it("names the package's version and the queued status of routes.ts", () => {
    expect(document.info.version).toBe(version);
    expect(document.components.schemas.QueuedPayment).toMatchObject({ properties: { status: { enum: [QUEUED_STATUS] } } });
  });
});

/** Reads the document's schemas as OpenAPI 3.1 does: JSON Schema 2020-12, formats as annotations only. */
const ajv = new Ajv2020({ allowUnionTypes: true, validateFormats: false });

/** The answer is declared for its status, its body matches the declared schema, its error code and headers are named. */
function expectDocumented(
  described: OpenApiOperation,
  { statusCode, headers = {}, body }: Pick<APIGatewayProxyResult, 'statusCode' | 'headers' | 'body'>,
): void {
  expect(Object.keys(described.responses)).toContain(String(statusCode));
  const declared = described.responses[statusCode];
  const payload = JSON.parse(body) as { error?: { code: string } };
  const schemaName = declared.content['application/json'].schema.$ref.replace('#/components/schemas/', '');
  const valid = ajv.validate(document.components.schemas[schemaName], payload);
  expect({ statusCode, payload, errors: valid ? [] : ajv.errors }).toEqual({ statusCode, payload, errors: [] });
  if (payload.error !== undefined) expect(declared.description).toContain(`\`${payload.error.code}\``);
  const undeclaredHeaders = Object.keys(headers).filter((name) => name !== 'Content-Type' && !(name in (declared.headers ?? {})));
  expect(undeclaredHeaders).toEqual([]);
}

describe("the document declares the handlers' real answers", () => {
  const silent = new Logger({ logLevel: 'SILENT' });
  const event = (fields: Partial<APIGatewayProxyEvent>) => ({ body: null, isBase64Encoded: false, headers: {}, ...fields }) as APIGatewayProxyEvent;
  const validBody = '{"orderId":"o-1","amount":100,"currency":"eur"}';
  const charged = chargeResult();
  const failures = [
    new PaymentInProgressError(),
    new OrderConflictError('o-1', ['amount']),
    new PaymentRejectedError('paymentMethod', 'resource_missing'),
    new PaymentProviderError('Stripe is down', true),
    new PaymentProviderRateLimitedError('global-rate'),
    new StoreUnavailableError('DynamoDB is down'),
    new Error('a bug'),
  ];

  it.each<[string, string | null, IdempotentCharge]>([
    ['a first charge', validBody, async () => charged],
    ['a charge waiting for the customer', validBody, async () => ({ ...charged, status: 'requires_action', clientSecret: 'pi_1_secret_x' })],
    ['a replay', validBody, async () => ({ ...charged, replayed: true })],
    ['a replayed decline', validBody, async () => ({ ...charged, status: 'declined', declineCode: 'insufficient_funds', replayed: true })],
    ['a schema violation', '{"orderId":"o-1","amount":0}', async () => charged],
    ['a body over the limit', 'x'.repeat(MAX_REQUEST_BODY_BYTES + 1), async () => charged],
    ...failures.map((failure): [string, string, IdempotentCharge] => [failure.name, validBody, () => Promise.reject(failure)]),
  ])('POST /payments: %s', async (_case, body, charge) => {
    expectDocumented(operation('post', '/payments'), await createChargePaymentHandler(charge, silent)(event({ body }), lambdaContext()));
  });

  const refunded: RefundResult = { orderId: 'o-1', refundId: 'r-1', amount: 40, currency: 'eur', status: 'succeeded', stripeRefundId: 're_1', replayed: false };
  it.each<[string, string | null, IdempotentRefund]>([
    ['a first refund', '{"refundId":"r-1","amount":40}', async () => refunded],
    ['a pending refund', '{"refundId":"r-1"}', async () => ({ ...refunded, status: 'pending' })],
    ['a replay', '{"refundId":"r-1"}', async () => ({ ...refunded, replayed: true })],
    ['a schema violation', '{"refundId":"r 1"}', async () => refunded],
    ['a body over the limit', 'x'.repeat(MAX_REQUEST_BODY_BYTES + 1), async () => refunded],
    ...[
      new OrderNotFoundError('o-1'),
      new OrderNotRefundableError('o-1', 'declined'),
      new RefundExceedsPaymentError('o-1', 60),
      new RefundExceedsPaymentError('o-1'),
      new RefundConflictError('o-1', 'r-1', ['amount']),
      new IdempotencyValidationError('another payload'),
      ...failures,
    ].map((failure): [string, string, IdempotentRefund] => [`${failure.name}: ${failure.message}`, '{"refundId":"r-1"}', () => Promise.reject(failure)]),
  ])('POST /payments/{orderId}/refunds: %s', async (_case, body, refund) => {
    const response = await createRefundPaymentHandler(refund, silent)(event({ body, pathParameters: { orderId: 'o-1' } }), lambdaContext());
    expectDocumented(operation('post', '/payments/{orderId}/refunds'), response);
  });

  const record: LedgerRecord = {
    orderId: 'o-1',
    status: 'partially_refunded',
    amount: 100,
    currency: 'eur',
    paymentMethod: 'pm_card_visa',
    paymentId: 'pi_1',
    paymentStatus: 'succeeded',
    amountRefunded: 40,
    refunds: {
      'r-1': { amount: 40, status: 'succeeded', stripeRefundId: 're_1', createdAt: '2030-01-01T00:00:30.000Z', updatedAt: '2030-01-01T00:00:31.000Z' },
    },
    refundReserved: 40,
    refundsVersion: 2,
    lastEventId: 'evt_1',
    factVersion: 'v',
    channel: 'api',
    namespace: 'ns',
    attemptAt: '2030-01-01T00:00:00.000Z',
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:01:00.000Z',
  };
  it.each<[string, string, LedgerReader]>([
    ['a record (and none of its internal fields)', 'o-1', async () => record],
    ['no record', 'o-1', async () => undefined],
    ['a malformed orderId', 'o 1', async () => record],
    ['the ledger unavailable', 'o-1', () => Promise.reject(new StoreUnavailableError('DynamoDB is down'))],
    ['a bug', 'o-1', () => Promise.reject(new Error('a bug'))],
  ])('GET /payments/{orderId}: %s', async (_case, orderId, read) => {
    const response = await createGetPaymentHandler(read, silent)(event({ pathParameters: { orderId } }), lambdaContext());
    expectDocumented(operation('get', '/payments/{orderId}'), response);
  });

  const webhook = operation('post', '/webhooks/stripe');
  const signatureHeader = (webhook.parameters ?? []).find((parameter) => parameter.in === 'header')?.name as string;
  const signed = { [signatureHeader]: 't=1,v1=x' };
  const stripeEvent: PaymentEvent = { id: 'evt_1', type: 'payment_intent.succeeded', created: 1, data: { object: {} } };
  it.each<[string, Record<string, string>, VerifyStripeEvent, HandleStripeEvent]>([
    ['an applied event', signed, async () => stripeEvent, async () => 'applied'],
    ['an event about an unknown order', signed, async () => stripeEvent, async () => 'unknown_order'],
    ['no signature', {}, async () => stripeEvent, async () => 'applied'],
    ['a wrong signature', signed, () => Promise.reject(new InvalidSignatureError('no match')), async () => 'applied'],
    ['an event still being applied', signed, async () => stripeEvent, () => Promise.reject(new IdempotencyAlreadyInProgressError('in progress'))],
    ['the ledger unavailable', signed, async () => stripeEvent, () => Promise.reject(new StoreUnavailableError('DynamoDB is down'))],
  ])('POST /webhooks/stripe: %s', async (_case, headers, verify, handleEvent) => {
    expectDocumented(webhook, await createStripeWebhookHandler(verify, handleEvent, silent)(event({ headers, body: '{}' }), lambdaContext()));
  });
});

describe('the document declares what API Gateway answers itself, as the stack configures it', () => {
  const { template } = synthesize();
  type Resource = { Properties: Record<string, unknown> };
  const resources = (type: string, properties = {}) => Object.values(template.findResources(type, { Properties: properties })) as Resource[];

  it('POST /payments/async: the queue integration answers', () => {
    const [queueMethod] = resources('AWS::ApiGateway::Method', { Integration: { Type: 'AWS' } });
    const answers = (queueMethod.Properties.Integration as { IntegrationResponses: Array<{ StatusCode: string; ResponseTemplates: Record<string, string> }> })
      .IntegrationResponses;
    expect(answers.length).toBeGreaterThan(0);
    // The 202 template's values are Velocity expressions inside JSON strings: the text parses, and its keys are the body's.
    for (const { StatusCode, ResponseTemplates } of answers)
      expectDocumented(operation('post', '/payments/async'), { statusCode: Number(StatusCode), body: ResponseTemplates['application/json'] });
  });

  it('the gateway responses: an error body of the contract, under its status where it has one', () => {
    const declared = Object.values(document.paths)
      .flatMap((methods) => Object.values(methods))
      .flatMap(({ responses }) => Object.entries(responses));
    for (const { Properties } of resources('AWS::ApiGateway::GatewayResponse')) {
      const body = (Properties.ResponseTemplates as Record<string, string>)['application/json'].replace('$context.error.messageString', '"a message"');
      const { error } = JSON.parse(body) as { error: { code: string } };
      expect(ajv.validate(document.components.schemas.Error, { error })).toBe(true);
      if (Properties.StatusCode !== undefined) {
        expect(declared.filter(([status, { description }]) => status === Properties.StatusCode && description.includes(`\`${error.code}\``))).not.toHaveLength(
          0,
        );
      }
    }
  });

  it("the deployed server's URL ends with the stage's name", () => {
    const [stage] = resources('AWS::ApiGateway::Stage');
    expect(document.servers[0].url).toMatch(new RegExp(`/${stage.Properties.StageName}$`));
  });
});
