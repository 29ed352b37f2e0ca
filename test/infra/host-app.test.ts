import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, NestedStack, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { buildHostApp } from '../../examples/host-app';
import { PaymentsService, PaymentsStack } from '../../lib';

type Resources = Record<string, { Type: string; DeletionPolicy?: string; Properties: { Environment?: { Variables?: Record<string, unknown> } } }>;
/** The distinct deployment namespaces the functions of a template are given. */
const namespacesOf = (stack: Stack) =>
  new Set(
    Object.values(Template.fromStack(stack).toJSON().Resources as Resources).flatMap(({ Type, Properties }) => {
      const namespace = Type === 'AWS::Lambda::Function' ? Properties.Environment?.Variables?.PAYMENTS_NAMESPACE : undefined;
      return namespace === undefined ? [] : [JSON.stringify(namespace)];
    }),
  );
const newApp = () => new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });

const outdir = mkdtempSync(join(tmpdir(), 'payments-host-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the example host app (examples/host-app.ts)', () => {
  const app = newApp();
  const { stack } = buildHostApp(app);

  it('synthesizes with the service inside its own stack, cdk-nag clean', () => {
    expect(() => app.synth({ force: true })).not.toThrow();
  });

  const template = Template.fromStack(stack).toJSON();
  const outputs = Object.keys(template.Outputs as Record<string, unknown>);

  it("keeps the host's own ApiUrl and gives every output of the service the host's prefix", () => {
    expect(outputs).toContain('ApiUrl');
    const service = outputs.filter((name) => name !== 'ApiUrl');
    expect(service).toContain('PaymentsApiUrl');
    expect(service.length).toBeGreaterThan(10);
    for (const name of service) expect(name).toMatch(/^Payments[A-Z]/);
  });

  it('names the prefix in the alarms that tell an operator which command to run', () => {
    const descriptions = Object.values(template.Resources as Record<string, { Type: string; Properties: { AlarmDescription?: string } }>)
      .filter(({ Type }) => Type === 'AWS::CloudWatch::Alarm')
      .map(({ Properties }) => JSON.stringify(Properties.AlarmDescription));
    const naming = descriptions.filter((text) => text.includes('npm run'));
    expect(naming.length).toBeGreaterThan(0);
    for (const text of naming) expect(text).toContain('STACK_NAME=ShopBackend OUTPUT_PREFIX=Payments npm run');
  });

  it('names its REST API and namespace after the host stack and the construct', () => {
    const apis = Object.values(template.Resources as Record<string, { Type: string; Properties: { Name?: string } }>).filter(
      ({ Type }) => Type === 'AWS::ApiGateway::RestApi',
    );
    expect(apis.map(({ Properties }) => Properties.Name)).toEqual(['ShopBackend.Payments']);
    expect(JSON.stringify(template)).toContain('"ShopBackend.Payments-"');
  });

  it('keeps its tables when the host stack goes: the ledger is the only record of what was charged', () => {
    const tables = Object.values(template.Resources as Resources).filter(({ Type }) => Type === 'AWS::DynamoDB::Table');
    expect(tables.map(({ DeletionPolicy }) => DeletionPolicy)).toEqual(['Retain', 'Retain']);
  });
});

describe('PaymentsService, wherever it is put', () => {
  it('gives two services in one stack, and a template stack of the same name, namespaces of their own', () => {
    const app = newApp();
    const shop = new Stack(app, 'Shop');
    new PaymentsService(new Construct(shop, 'EU'), 'Payments', { outputPrefix: 'Eu' });
    new PaymentsService(new Construct(shop, 'US'), 'Payments', { outputPrefix: 'Us' });
    const template = new PaymentsStack(app, 'Shop-Payments');
    const inShop = namespacesOf(shop);
    expect(inShop.size).toBe(2);
    for (const namespace of namespacesOf(template)) expect(inShop.has(namespace)).toBe(false);
  });

  it('refuses an output prefix CloudFormation would refuse, naming it', () => {
    expect(() => new PaymentsService(new Stack(newApp(), 'Shop'), 'Payments', { outputPrefix: 'eu-payments' })).toThrow(/outputPrefix "eu-payments"/);
  });

  it('asks for a namespace where the stack name is known only at deploy time', () => {
    const nested = new NestedStack(new Stack(newApp(), 'Shop'), 'Nested');
    expect(() => new PaymentsService(nested, 'Payments')).toThrow(/give it a namespace/);
    expect(() => new PaymentsService(nested, 'Named', { namespace: 'shop-payments' })).not.toThrow();
  });
});
