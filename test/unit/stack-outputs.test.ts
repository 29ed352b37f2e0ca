import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployedOutputs } from '../../scripts/stack-outputs';

const dir = mkdtempSync(join(tmpdir(), 'outputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const outputsFile = (stacks: unknown) => {
  const file = join(dir, `${Math.random()}.json`);
  writeFileSync(file, JSON.stringify(stacks));
  return file;
};
const sandbox = { ApiUrl: 'https://a.execute-api.eu-west-1.amazonaws.com/v1/', ApiKeyId: 'k1' };

describe('the stack whose outputs npm run deploy wrote (what smoke acts on)', () => {
  it("is the file's only stack, or the one STACK_NAME names", () => {
    expect(deployedOutputs(outputsFile({ ExactlyOncePaymentsSandbox: sandbox }), undefined)).toEqual({
      stackName: 'ExactlyOncePaymentsSandbox',
      outputs: sandbox,
    });
    const two = outputsFile({ ExactlyOncePaymentsSandbox: sandbox, Other: {} });
    expect(deployedOutputs(two, 'ExactlyOncePaymentsSandbox').stackName).toBe('ExactlyOncePaymentsSandbox');
  });

  it('is never guessed: no file, no stack, several stacks or a name the file lacks is an error', () => {
    expect(() => deployedOutputs(join(dir, 'missing.json'), undefined)).toThrow(/run npm run deploy first/);
    expect(() => deployedOutputs(outputsFile({}), undefined)).toThrow(/set STACK_NAME/);
    expect(() => deployedOutputs(outputsFile({ A: sandbox, B: sandbox }), undefined)).toThrow(/names the stacks \[A, B\]/);
    expect(() => deployedOutputs(outputsFile({ A: sandbox }), 'B')).toThrow(/set STACK_NAME/);
  });
});

it('leaves the operator commands on ExactlyOncePayments or STACK_NAME, never on a stack guessed from cdk-outputs.json', () => {
  const [cwd, chosen] = [process.cwd(), process.env.STACK_NAME];
  const stackName = (): string => {
    let name = '';
    jest.isolateModules(() => {
      name = (require('../../scripts/stack-outputs') as { STACK_NAME: string }).STACK_NAME;
    });
    return name;
  };
  try {
    const here = mkdtempSync(join(dir, 'checkout-'));
    writeFileSync(join(here, 'cdk-outputs.json'), JSON.stringify({ ExactlyOncePaymentsSandbox: sandbox }));
    process.chdir(here);
    delete process.env.STACK_NAME;
    expect(stackName()).toBe('ExactlyOncePayments');
    process.env.STACK_NAME = 'ExactlyOncePaymentsSandbox';
    expect(stackName()).toBe('ExactlyOncePaymentsSandbox');
  } finally {
    process.chdir(cwd);
    if (chosen === undefined) delete process.env.STACK_NAME;
    else process.env.STACK_NAME = chosen;
  }
});
