import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildHostApp } from '../../examples/host-app';

const outdir = mkdtempSync(join(tmpdir(), 'payments-host-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the example host app (examples/host-app.ts)', () => {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
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
    expect(apis.map(({ Properties }) => Properties.Name)).toEqual(['ShopBackend-Payments']);
    expect(JSON.stringify(template)).toContain('"ShopBackend-Payments-"');
  });
});
