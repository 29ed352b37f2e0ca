import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { STACK_NAMES } from '../../lambdas/contract/settings';
import { OUTPUTS_FILE } from '../../scripts/stack-outputs';
import { synthesize } from '../support/synth';

/** `npm run deploy` and `npm run destroy` cannot run without an AWS account: their flags are checked here instead. */
const root = resolve(__dirname, '../..');
const { scripts } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const cdkHelp = (verb: string) => execFileSync(resolve(root, 'node_modules/.bin/cdk'), [verb, '--help'], { cwd: root, encoding: 'utf8' });
const contextOf = (script: string) => Object.fromEntries([...script.matchAll(/-c (\w+)=(\S+)/g)].map(([, name, value]) => [name, value]));

describe.each([
  ['deploy', 'cdk deploy '],
  ['destroy', 'cdk destroy '],
])('npm run %s', (name, command) => {
  const script = scripts[name];

  it(`runs ${command.trim()} with options the CDK CLI knows`, () => {
    expect(script.startsWith(command)).toBe(true);
    const help = cdkHelp(command.split(' ')[1]);
    const options = [...script.matchAll(/\s(--?[a-z][\w-]*)/g)].map(([, option]) => option);
    expect(options.length).toBeGreaterThan(0);
    expect(options.filter((option) => !new RegExp(`(^|[\\s,])${option}(?=[\\s,])`, 'm').test(help))).toEqual([]);
  });
});

it('deploys and destroys a sandbox stack (the same context), whose tables, logs and queues go with it', () => {
  expect(contextOf(scripts.deploy)).toEqual({ sandbox: 'true' });
  expect(contextOf(scripts.destroy)).toEqual(contextOf(scripts.deploy));
  const resources = Object.values(synthesize(contextOf(scripts.deploy)).template.toJSON().Resources) as Array<{ Type: string; DeletionPolicy?: string }>;
  const data = resources.filter(({ Type }) => ['AWS::DynamoDB::Table', 'AWS::SQS::Queue', 'AWS::Logs::LogGroup'].includes(Type));
  expect(data.length).toBeGreaterThan(4);
  expect(data.filter(({ DeletionPolicy }) => DeletionPolicy !== 'Delete')).toEqual([]);
});

it('never deploys or destroys a retained stack: a sandbox has a name of its own kind, and the kinds never share one', () => {
  const sandboxName = synthesize(contextOf(scripts.deploy)).stack.stackName;
  expect(sandboxName).toBe(STACK_NAMES.sandbox);
  expect(synthesize().stack.stackName).toBe(STACK_NAMES.retained);
  expect(() => synthesize({ ...contextOf(scripts.deploy), stackName: STACK_NAMES.retained })).toThrow(/a sandbox stack .* is named …Sandbox/);
  expect(() => synthesize({ ...contextOf(scripts.deploy), stackName: 'PaymentsProd' })).toThrow(/a sandbox stack .* is named …Sandbox/);
  expect(() => synthesize({ stackName: 'PaymentsSandbox' })).toThrow(/is a sandbox's name/);
  expect(() => synthesize({ stackName: 'PaymentsSandbox' })).not.toThrow(/sandbox=true/); // never the advice that would make it deletable
  expect(synthesize({ ...contextOf(scripts.deploy), stackName: 'AliceSandbox' }).stack.stackName).toBe('AliceSandbox');
});

it('writes the outputs to the git-ignored file npm run smoke reads', () => {
  expect(scripts.deploy).toContain(`--outputs-file ${OUTPUTS_FILE}`);
  expect(readFileSync(resolve(root, '.gitignore'), 'utf8').split('\n')).toContain(OUTPUTS_FILE);
});

it('keeps a retained stack an earlier version let take a sandbox name, only when named exactly, and never as a sandbox', () => {
  const kept = synthesize({ stackName: 'PaymentsProdSandbox', retainedStackName: 'PaymentsProdSandbox' });
  const tables = Object.values(kept.template.findResources('AWS::DynamoDB::Table'));
  expect(tables.map(({ DeletionPolicy, Properties }) => [DeletionPolicy, Properties.DeletionProtectionEnabled])).toEqual([
    ['Retain', true],
    ['Retain', true],
  ]);
  expect(() => synthesize({ sandbox: 'true', stackName: 'PaymentsProdSandbox', retainedStackName: 'PaymentsProdSandbox' })).toThrow(
    /cannot be deployed as a sandbox/,
  );
});

it('protects a retained stack from deletion, and not a sandbox', () => {
  expect(synthesize().stack.terminationProtection).toBe(true);
  expect(synthesize(contextOf(scripts.deploy)).stack.terminationProtection).toBe(false);
});

describe('the opt-in sandbox workflow (.github/workflows/sandbox-smoke.yml)', () => {
  const workflow = readFileSync(resolve(root, '.github/workflows/sandbox-smoke.yml'), 'utf8');
  const stackName = /^\s+STACK_NAME: (\S+)$/m.exec(workflow)?.[1];

  it("deploys, reads, smokes and destroys a sandbox of its own, never a developer's ExactlyOncePaymentsSandbox", () => {
    expect(stackName).toMatch(/Sandbox$/);
    expect(stackName).not.toBe(STACK_NAMES.sandbox);
    expect(workflow).toContain('npm run deploy -- -c stackName="$STACK_NAME"');
    expect(workflow).toContain('npm run destroy -- -c stackName="$STACK_NAME"');
    expect(workflow).toContain('.[env.STACK_NAME].StripeSecretName');
    expect(workflow).not.toContain(STACK_NAMES.sandbox);
  });
});
