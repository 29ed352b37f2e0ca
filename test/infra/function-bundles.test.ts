import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { entryPath, esbuildOptionsOf, FUNCTION_ENTRIES } from '../../lib/constructs/bundling';
import { synthesize } from '../support/synth';

type FunctionName = keyof typeof FUNCTION_ENTRIES;
/** The functions each of whose invocations calls Stripe: they load the SDK at init. */
const STRIPE_AT_INIT: FunctionName[] = ['auditLedger', 'catchUpEvents'];
/** The functions that never call Stripe. */
const WITHOUT_STRIPE: FunctionName[] = ['getPayment', 'auditPlan', 'auditVerdict'];

const root = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'payments-bundles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Each function's resource in the synthesized stack: the id of the construct that makes it, then `Function`. */
const RESOURCE_OF: Record<FunctionName, string> = {
  chargePayment: 'ChargePaymentFunction',
  chargeWorker: 'ChargeWorkerFunction',
  refundPayment: 'RefundPaymentFunction',
  getPayment: 'GetPaymentFunction',
  stripeWebhook: 'StripeWebhookFunction',
  reconcilePending: 'ReconcilerFunction',
  auditPlan: 'AuditPlanSlicesFunction',
  auditLedger: 'AuditFunction',
  auditVerdict: 'AuditVerdictFunction',
  catchUpEvents: 'EventsCatchUpFunction',
};
const REGION = { AWS_REGION: 'us-east-1' };
// biome-ignore lint/suspicious/noExplicitAny: a template is untyped JSON
const resources = Object.entries(synthesize().template.toJSON().Resources as Record<string, { Type: string; Properties: any }>);

/** The environment the stack gives the function, what it resolves at deploy time (a table's name, a queue's URL) made up. */
function stackEnvironment(name: FunctionName): Record<string, string> {
  const prefix = RESOURCE_OF[name];
  const [resource, ...others] = resources.filter(([id, { Type }]) => Type === 'AWS::Lambda::Function' && new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id));
  if (resource === undefined || others.length > 0) throw new Error(`the stack has no one function ${prefix}`);
  const variables = Object.entries(resource[1].Properties.Environment.Variables as Record<string, unknown>);
  return { ...REGION, ...Object.fromEntries(variables.map(([key, value]) => [key, typeof value === 'string' ? value : 'made-up'])) };
}

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
    ...esbuildOptionsOf(entryPath(name), file),
    plugins: [markSdkEvaluation],
    metafile: true,
    logLevel: 'silent',
  });
  return { file, metafile };
}

/** Requires the bundle in a fresh Node process, as a cold start does: its handler, whether the SDK's module body ran, whether the Secrets Manager client was loaded. */
function coldStart(file: string, environment: Record<string, string>): { handler: string; sdkEvaluated: boolean; secretsClientLoaded: boolean } {
  const secretsClientLoaded = "Object.keys(require.cache).some((path) => path.includes('client-secrets-manager'))";
  const script = `const { handler } = require(${JSON.stringify(file)}); console.log(JSON.stringify({ handler: typeof handler, sdkEvaluated: globalThis.stripeSdkEvaluated === true, secretsClientLoaded: ${secretsClientLoaded} }));`;
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
  it.each(names)(
    '%s loads with its handler from what the stack sets, evaluates the Stripe SDK at init only if every invocation calls Stripe, and loads the Secrets Manager client only for a first secret read',
    (name) => {
      const { file } = bundles.get(name) ?? { file: '' };
      expect(coldStart(file, stackEnvironment(name))).toEqual({ handler: 'function', sdkEvaluated: STRIPE_AT_INIT.includes(name), secretsClientLoaded: false });
    },
  );

  // auditPlan's one variable, the Stripe budget, has a default.
  it.each(names.filter((name) => name !== 'auditPlan'))(
    '%s builds its handler at init: without the stack environment it fails to load, not on its first request',
    (name) => {
      const { file } = bundles.get(name) ?? { file: '' };
      expect(() => coldStart(file, REGION)).toThrow(/environment variable \w+ is not set/);
    },
  );

  it("take Stripe's ESM build, and never its CommonJS one, which only tests and the local runtime require", () => {
    for (const name of names) {
      const { metafile } = bundles.get(name) ?? { metafile: { inputs: {}, outputs: {} } };
      const [output] = Object.values(metafile.outputs);
      const bytesFrom = (build: string) =>
        Object.entries(output.inputs)
          .filter(([path]) => path.includes(`node_modules/stripe/${build}/`))
          .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
      expect({ name, esm: bytesFrom('esm') > 0, commonJs: bytesFrom('cjs') }).toEqual({ name, esm: !WITHOUT_STRIPE.includes(name), commonJs: 0 });
    }
  });
});
