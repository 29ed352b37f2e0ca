import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { ENV } from '../../lambdas/contract/environment';
import { entryPath, FUNCTION_BUNDLING, FUNCTION_ENTRIES } from '../../lib/constructs/bundling';

type FunctionName = keyof typeof FUNCTION_ENTRIES;
/** The functions each of whose invocations calls Stripe: they load the SDK at init. */
const STRIPE_AT_INIT: FunctionName[] = ['auditLedger', 'catchUpEvents'];

const root = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'payments-bundles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the stack sets, with made-up values: nothing at init may need more, or call AWS or Stripe. */
const STACK_ENVIRONMENT: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  [ENV.idempotencyTableName]: 'Idempotency',
  [ENV.ledgerTableName]: 'Ledger',
  [ENV.stripeSecretId]: 'stripe-api-key',
  [ENV.stripeWebhookSecretId]: 'stripe-webhook-secret',
  [ENV.chargeQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/000000000000/charges',
  [ENV.deadLetterQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/000000000000/charges-dlq',
  [ENV.namespace]: 'bundle-test',
  [ENV.pendingGraceSeconds]: '600',
  [ENV.stripeRequestsPerSecond]: '25',
};

/** Marks the evaluation of the Stripe SDK's module body: the end of its ESM entry, the build the bundles take. */
const markSdkEvaluation: Plugin = {
  name: 'mark-stripe-sdk-evaluation',
  setup(bundling) {
    bundling.onLoad({ filter: /[\\/]node_modules[\\/]stripe[\\/]esm[\\/]stripe\.esm\.node\.js$/ }, ({ path }) => ({
      contents: `${readFileSync(path, 'utf8')}\nglobalThis.stripeSdkEvaluated = true;\n`,
      loader: 'js',
    }));
  },
};

/** The function bundled as the stack bundles it (CommonJS, FUNCTION_BUNDLING), with the SDK's evaluation marked. */
async function bundle(name: FunctionName): Promise<{ file: string; metafile: Metafile }> {
  const file = join(dir, `${name}.js`);
  const { metafile } = await build({
    entryPoints: [entryPath(name)],
    bundle: true,
    outfile: file,
    platform: 'node',
    format: 'cjs',
    minify: FUNCTION_BUNDLING.minify,
    target: FUNCTION_BUNDLING.target,
    mainFields: [...FUNCTION_BUNDLING.mainFields],
    external: [...FUNCTION_BUNDLING.externalModules],
    plugins: [markSdkEvaluation],
    metafile: true,
    logLevel: 'silent',
  });
  return { file, metafile };
}

/** Requires the bundle in a fresh Node process, as a cold start does: its handler, and whether the SDK's module body ran. */
function coldStart(file: string, environment: Record<string, string> = STACK_ENVIRONMENT): { handler: string; sdkEvaluated: boolean } {
  const script = `const { handler } = require(${JSON.stringify(file)}); console.log(JSON.stringify({ handler: typeof handler, sdkEvaluated: globalThis.stripeSdkEvaluated === true }));`;
  // The AWS SDK is left out of the bundles, as the Lambda runtime provides it: here it comes from the repository's node_modules.
  const env = { ...environment, NODE_PATH: join(root, 'node_modules') };
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8', stdio: 'pipe' }));
}

const names = Object.keys(FUNCTION_ENTRIES) as FunctionName[];
const bundles = new Map<FunctionName, { file: string; metafile: Metafile }>();
beforeAll(async () => {
  for (const name of names) bundles.set(name, await bundle(name));
}, 120_000);

describe("each function's bundle, required as a cold start requires it", () => {
  it.each(names)('%s loads with its handler, and evaluates the Stripe SDK at init only if every invocation calls Stripe', (name) => {
    const { file } = bundles.get(name) ?? { file: '' };
    expect(coldStart(file)).toEqual({ handler: 'function', sdkEvaluated: STRIPE_AT_INIT.includes(name) });
  });

  // auditPlan's one variable, the Stripe budget, has a default.
  it.each(names.filter((name) => name !== 'auditPlan'))(
    '%s builds its handler at init: without the stack environment it fails to load, not on its first request',
    (name) => {
      const { file } = bundles.get(name) ?? { file: '' };
      expect(() => coldStart(file, { AWS_REGION: STACK_ENVIRONMENT.AWS_REGION })).toThrow(/environment variable \w+ is not set/);
    },
  );

  it("take Stripe's ESM build only: the CommonJS one, which tests and the local runtime require, is never bundled", () => {
    for (const name of names) {
      const { metafile } = bundles.get(name) ?? { metafile: { inputs: {}, outputs: {} } };
      const [output] = Object.values(metafile.outputs);
      const bytesFrom = (build: string) =>
        Object.entries(output.inputs)
          .filter(([path]) => path.includes(`node_modules/stripe/${build}/`))
          .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
      expect({ name, commonJs: bytesFrom('cjs') }).toEqual({ name, commonJs: 0 });
    }
  });
});
