/**
 * Drives a running payments API from outside, as a client would, and exits 1 on any failed check:
 *   npm run smoke                       the stack `npm run deploy` wrote to cdk-outputs.json (STACK_NAME if it
 *                                       names several; OUTPUT_PREFIX when a host app gave the outputs a prefix); the
 *                                       key's value is read with your AWS credentials (apigateway:GET)
 *   npm run smoke -- --url <url>        any deployment, with the key in SMOKE_API_KEY (or --api-key, which `ps` shows)
 *   npm run smoke -- --local            the running `npm start`
 * Against AWS the Stripe secret must hold a Stripe test key: the checks charge Stripe's test card.
 */
import { parseArgs } from 'node:util';
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { readRuntimeFile } from '../local/runtime-file';
import { runSmokeChecks, type SmokeTarget } from './smoke-checks';
import { deployedOutputs } from './stack-outputs';

/** The API to check: `--url`, `--local`, or the stack `npm run deploy` wrote to cdk-outputs.json. */
async function target(argv: string[]): Promise<SmokeTarget> {
  const { values } = parseArgs({ args: argv, options: { url: { type: 'string' }, 'api-key': { type: 'string' }, local: { type: 'boolean' } } });
  if (values.url !== undefined) return { url: values.url, apiKey: values['api-key'] ?? (process.env.SMOKE_API_KEY || undefined) };
  if (values.local) return { url: readRuntimeFile().url, apiKey: values['api-key'] };
  const { output } = deployedOutputs();
  const [url, apiKeyId] = [output('ApiUrl'), output('ApiKeyId')];
  // The key lives in the API's region, whatever the shell's default region is.
  const region = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1];
  const stored = async () => (await new APIGatewayClient({ region }).send(new GetApiKeyCommand({ apiKey: apiKeyId, includeValue: true }))).value;
  return { url, apiKey: values['api-key'] ?? (await stored()) };
}

async function main(): Promise<void> {
  const { url, apiKey } = await target(process.argv.slice(2));
  console.log(`Smoke checks against ${url}`);
  const checks = await runSmokeChecks({ url, apiKey });
  console.table(checks.map(({ check, expected, got, ok }) => ({ check, expected, got, result: ok ? 'pass' : 'FAIL' })));
  const failed = checks.filter(({ ok }) => !ok).length;
  console.log(failed === 0 ? `All ${checks.length} checks passed.` : `${failed} of ${checks.length} checks failed.`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
