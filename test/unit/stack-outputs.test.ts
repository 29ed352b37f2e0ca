import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployedOutputs, stackOutputs } from '../../scripts/stack-outputs';

const dir = mkdtempSync(join(tmpdir(), 'outputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const outputsFile = (stacks: unknown) => {
  const file = join(dir, `${Math.random()}.json`);
  writeFileSync(file, JSON.stringify(stacks));
  return file;
};
const sandbox = { ApiUrl: 'https://a.execute-api.eu-west-1.amazonaws.com/v1/', ApiKeyId: 'k1' };

/** Runs `body` with these variables set (undefined: unset) until it settles, then puts them back. */
async function withEnvironment<T>(variables: Record<string, string | undefined>, body: () => T | Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  set(variables);
  try {
    return await body();
  } finally {
    set(before);
  }
}

describe('the stack whose outputs npm run deploy wrote (what smoke acts on)', () => {
  it("is the file's only stack, or the one STACK_NAME names", () => {
    const only = deployedOutputs(outputsFile({ ExactlyOncePaymentsSandbox: sandbox }), undefined);
    expect(only.stackName).toBe('ExactlyOncePaymentsSandbox');
    expect([only.output('ApiUrl'), only.output('ApiKeyId')]).toEqual([sandbox.ApiUrl, sandbox.ApiKeyId]);
    const two = outputsFile({ ExactlyOncePaymentsSandbox: sandbox, Other: {} });
    expect(deployedOutputs(two, 'ExactlyOncePaymentsSandbox').stackName).toBe('ExactlyOncePaymentsSandbox');
  });

  it('reads the outputs a host app gave a prefix by their full name (OUTPUT_PREFIX), and names that name when one is missing', async () => {
    const file = outputsFile({ ShopBackend: { ApiUrl: 'the host app’s own', PaymentsApiUrl: sandbox.ApiUrl } });
    await withEnvironment({ OUTPUT_PREFIX: 'Payments' }, () => {
      const { output } = deployedOutputs(file, undefined);
      expect(output('ApiUrl')).toBe(sandbox.ApiUrl);
      expect(() => output('ApiKeyId')).toThrow(`${file} has no output PaymentsApiKeyId for stack ShopBackend`);
    });
    await withEnvironment({ OUTPUT_PREFIX: undefined }, () => expect(deployedOutputs(file, undefined).output('ApiUrl')).toBe('the host app’s own'));
  });

  it('is never guessed: no file, no stack, several stacks or a name the file lacks is an error', () => {
    expect(() => deployedOutputs(join(dir, 'missing.json'), undefined)).toThrow(/run npm run deploy first/);
    expect(() => deployedOutputs(outputsFile({}), undefined)).toThrow(/set STACK_NAME/);
    expect(() => deployedOutputs(outputsFile({ A: sandbox, B: sandbox }), undefined)).toThrow(/names the stacks \[A, B\]/);
    expect(() => deployedOutputs(outputsFile({ A: sandbox }), 'B')).toThrow(/set STACK_NAME/);
  });
});

it('leaves the operator commands on ExactlyOncePayments or STACK_NAME, never on a stack guessed from cdk-outputs.json', async () => {
  const cwd = process.cwd();
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
    expect(await withEnvironment({ STACK_NAME: undefined }, stackName)).toBe('ExactlyOncePayments');
    expect(await withEnvironment({ STACK_NAME: 'ExactlyOncePaymentsSandbox' }, stackName)).toBe('ExactlyOncePaymentsSandbox');
  } finally {
    process.chdir(cwd);
  }
});

describe('the deployed stack the operator commands read (stackOutputs)', () => {
  // Neither the environment nor a file gives a region, as on a machine never set up for AWS.
  const noRegion = {
    AWS_REGION: undefined,
    AWS_DEFAULT_REGION: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
  };
  const failureWithoutRegion = (hasLocalMode: boolean) =>
    withEnvironment(noRegion, () => stackOutputs({ hasLocalMode })).then(
      () => undefined,
      (error: Error) => error.message,
    );

  it('without a region says to set AWS_REGION or AWS_PROFILE, or to add -- --local where the command has it', async () => {
    expect(await failureWithoutRegion(true)).toMatch(
      /^no AWS region: set AWS_REGION \(or AWS_PROFILE, .*\) to act on the deployed stack \w+, or add `-- --local`/,
    );
    const awsOnly = await failureWithoutRegion(false);
    expect(awsOnly).toMatch(/^no AWS region: set AWS_REGION \(or AWS_PROFILE, .*\) to act on the deployed stack \w+$/);
  });
});
