/**
 * Cold start to first answer, per function: a fresh `node` process loads the function's bundle (as
 * deployed: esbuild with FUNCTION_BUNDLING) and answers one realistic first request, side by side
 * with the Powertools-alone peer (bench-peer.ts) and a handler that only creates a DynamoDB client.
 * The functions run as deployed: table names from the environment, DynamoDB Local through
 * AWS_ENDPOINT_URL_DYNAMODB, their secrets from a fake Secrets Manager, api.stripe.com sent to the
 * Stripe emulator (bench-stripe-redirect.ts). Part of `npm run bench` (`BENCH_ONLY=cold-start` alone).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { APIGatewayProxyEvent, ScheduledEvent } from 'aws-lambda';
import { build } from 'esbuild';
import { createCatchUpCheckpoint } from '../lambdas/adapters/catch-up-checkpoint';
import { createChargeService } from '../lambdas/adapters/charge-service';
import { AUDIT_SLICE_TIMEOUT_SECONDS, AUDIT_STEP_TIMEOUT_SECONDS, auditSliceSeconds } from '../lambdas/contract/audit-workflow';
import { ENV, SERVICE_NAME } from '../lambdas/contract/environment';
import type { ChargeRequest } from '../lambdas/contract/payment-request';
import {
  CHARGE_FUNCTION_TIMEOUT_SECONDS,
  DAILY_AUDIT_WINDOW,
  EVENTS_CATCH_UP_TIMEOUT_SECONDS,
  PENDING_GRACE_SECONDS,
  RECONCILER_TIMEOUT_SECONDS,
} from '../lambdas/contract/settings';
import { DEFAULT_STRIPE_REQUESTS_PER_SECOND, stripeBudgetOf } from '../lambdas/contract/stripe-budget';
import type { SliceReport } from '../lambdas/core/audit';
import { createAuditPlanHandler } from '../lambdas/handlers/audit-plan';
import { entryPath, esbuildOptionsOf, FUNCTION_ENTRIES } from '../lib/constructs/bundling';
import { lambdaContext } from '../local/lambda-context';
import { type LocalParts, newOrderId, postEvent, refundEvent, serviceOptions, TEST_NAMESPACE } from '../test/support/local-parts';
import { sqsRecord } from '../test/support/sqs-records';
import { WEBHOOK_SECRET, webhookDelivery } from './bench-capacity';
import type { ColdStart } from './bench-cold-start-child';
import { ratio } from './bench-latency';

const REPO = resolve(__dirname, '..');
/** Inside the checkout, so a bundle's `@aws-sdk/*` resolves as it does in Lambda's runtime. */
const BENCH_DIR = resolve(REPO, '.bench');
const RUNS = Number(process.env.BENCH_COLD_START_RUNS ?? 7);
/** Every function's init within this of the DynamoDB-only handler's meets the issue's target. */
const INIT_TARGET_MS = 15;
const CHILD_TIMEOUT_MS = 60_000;
/** GET /payments/{orderId}'s timeout in the stack (payments-service.ts). */
const GET_PAYMENT_TIMEOUT_SECONDS = 10;
const SECRET_IDS = { stripe: 'bench/stripe-api-key', webhook: 'bench/stripe-webhook-secret' };

type FunctionName = keyof typeof FUNCTION_ENTRIES;

interface Bundle {
  file: string;
  bytes: number;
  stripeBytes: number;
}

interface Target {
  name: string;
  entry: string;
  /** The Lambda function name it runs as. */
  functionName: string;
  firstRequest: string;
  event: (run: number) => unknown;
  /** The function's timeout in the stack: its context's remaining time (the scheduled ones stop short of it). */
  timeoutSeconds: number;
}

/** Bundles an entry as every function is bundled; its size, and how much of it is the Stripe SDK. */
async function bundle(entry: string, name: string): Promise<Bundle> {
  const file = resolve(BENCH_DIR, `${name}.js`);
  const result = await build({ ...esbuildOptionsOf(entry, file), metafile: true });
  const [output] = Object.values(result.metafile.outputs);
  const stripeBytes = Object.entries(output.inputs)
    .filter(([path]) => path.includes('node_modules/stripe/'))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
  return { file, bytes: output.bytes, stripeBytes };
}

/** Answers GetSecretValue (the only call the functions make) with the bench's secrets. */
async function startFakeSecretsManager(secrets: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { SecretId?: string };
      const value = SecretId === undefined ? undefined : secrets[SecretId];
      const found = request.headers['x-amz-target'] === 'secretsmanager.GetSecretValue' && value !== undefined;
      const body = found
        ? {
            ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${SecretId}`,
            Name: SecretId,
            SecretString: value,
            VersionId: 'v1',
            VersionStages: ['AWSCURRENT'],
          }
        : { __type: 'ResourceNotFoundException', message: `no secret ${SecretId}` };
      response.writeHead(found ? 200 : 400, { 'Content-Type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}

/** One cold start in a fresh process; rejects when the function did not answer successfully. */
function coldStart(target: Target, bundled: Bundle, harness: { child: string; redirect: string }, env: NodeJS.ProcessEnv, run: number): Promise<ColdStart> {
  const args = [
    '--require',
    harness.redirect,
    harness.child,
    bundled.file,
    target.functionName,
    String(target.timeoutSeconds * 1000),
    JSON.stringify(target.event(run)),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...env, AWS_LAMBDA_FUNCTION_NAME: target.functionName },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    timeout: CHILD_TIMEOUT_MS,
  });
  let stderr = '';
  let result = '';
  child.stdout?.resume();
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
    result += chunk;
  });
  return new Promise((resolved, rejected) => {
    child.on('error', rejected);
    child.on('close', (code, signal) => {
      const coldStart = result === '' ? undefined : (JSON.parse(result) as ColdStart);
      const failure = coldStart === undefined ? `exited ${code ?? signal} without an answer: ${stderr}` : failureOf(coldStart);
      if (failure === undefined && coldStart !== undefined) resolved(coldStart);
      else rejected(new Error(`${target.name}'s cold start (${target.firstRequest}) failed: ${failure}`));
    });
  });
}

/** An error, a non-2xx answer or a failed message: the bench must not time a failure path. */
function failureOf({ answer, error }: ColdStart): string | undefined {
  if (error !== undefined) return error;
  const { statusCode, body, batchItemFailures } = (answer ?? {}) as { statusCode?: number; body?: string; batchItemFailures?: unknown[] };
  if (statusCode !== undefined && statusCode >= 300) return `answered ${statusCode}: ${body}`;
  if (batchItemFailures !== undefined && batchItemFailures.length > 0) return 'its message failed';
  return undefined;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const order = (label: string): ChargeRequest => ({ orderId: newOrderId(label), amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa' });

const scheduledEvent = (functionName: string): ScheduledEvent => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '000000000000',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: [`arn:aws:events:us-east-1:000000000000:rule/${functionName}`],
  detail: {},
});

/**
 * Each function's first request. Refunds, reads and webhooks are of orders charged beforehand, one
 * per run; the scheduled functions get the event their schedule or workflow sends, with little to do.
 */
async function firstRequests(parts: LocalParts): Promise<Record<FunctionName, Pick<Target, 'firstRequest' | 'event' | 'timeoutSeconds'>>> {
  const charge = createChargeService(serviceOptions(parts), 'api');
  const charged: Array<{ orderId: string; succeeded: unknown }> = [];
  for (let run = 0; run < RUNS; run += 1) {
    const { orderId, paymentId } = await charge(order('cold-fixture'), lambdaContext());
    const succeeded = parts.stripeEmulator.webhooks
      .events()
      .find((event) => event.type === 'payment_intent.succeeded' && (event.data.object as { id?: string }).id === paymentId);
    charged.push({ orderId, succeeded });
  }
  // As the previous scheduled run left it: this run reads only the last few minutes again.
  await createCatchUpCheckpoint(parts.dynamoDb, parts.tables.idempotencyTableName).advance(Math.floor(Date.now() / 1000));
  const plan = await createAuditPlanHandler(auditSliceSeconds(stripeBudgetOf(DEFAULT_STRIPE_REQUESTS_PER_SECOND)))(DAILY_AUDIT_WINDOW);
  const emptySlice: SliceReport = { paymentsAtStripe: 0, ledgerRecords: 0, discrepancies: [], unlisted: 0 };
  return {
    chargePayment: { firstRequest: 'a first charge', event: () => postEvent(order('cold-charge')), timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS },
    chargeWorker: {
      firstRequest: 'a message of a new order',
      event: () => ({ Records: [sqsRecord(randomUUID(), order('cold-queued'))] }),
      timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
    },
    refundPayment: {
      firstRequest: 'a partial refund',
      event: (run) => refundEvent(charged[run].orderId, { refundId: 'cold-refund', amount: 500 }),
      timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
    },
    getPayment: {
      firstRequest: 'a GET of a charged order',
      timeoutSeconds: GET_PAYMENT_TIMEOUT_SECONDS,
      event: (run): Partial<APIGatewayProxyEvent> => ({
        resource: '/payments/{orderId}',
        path: `/payments/${charged[run].orderId}`,
        httpMethod: 'GET',
        headers: {},
        pathParameters: { orderId: charged[run].orderId },
        body: null,
        isBase64Encoded: false,
      }),
    },
    stripeWebhook: {
      firstRequest: 'a signed payment_intent.succeeded of a charged order',
      event: (run) => webhookDelivery(parts.stripe, charged[run].succeeded),
      timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
    },
    reconcilePending: {
      firstRequest: 'its schedule, nothing pending',
      event: () => scheduledEvent('reconcilePending'),
      timeoutSeconds: RECONCILER_TIMEOUT_SECONDS,
    },
    auditPlan: { firstRequest: 'the daily audit input', event: () => DAILY_AUDIT_WINDOW, timeoutSeconds: AUDIT_STEP_TIMEOUT_SECONDS },
    auditLedger: {
      firstRequest: "the plan's first slice, 49 h ago: nothing in it",
      event: () => ({ since: plan.slices[0], until: plan.until, sliceSeconds: plan.sliceSeconds, listAtMost: plan.listAtMost }),
      timeoutSeconds: AUDIT_SLICE_TIMEOUT_SECONDS,
    },
    auditVerdict: {
      firstRequest: `${plan.slices.length} empty slice reports`,
      event: () => ({ since: plan.since, until: plan.until, reports: plan.slices.map(() => emptySlice) }),
      timeoutSeconds: AUDIT_STEP_TIMEOUT_SECONDS,
    },
    catchUpEvents: {
      firstRequest: 'its schedule, a run after one a moment ago',
      event: () => scheduledEvent('catchUpEvents'),
      timeoutSeconds: EVENTS_CATCH_UP_TIMEOUT_SECONDS,
    },
  };
}

/** The environment the stack gives the functions (all of them: a variable a function does not read is harmless), pointed at the local parts. */
function lambdaEnvironment(parts: LocalParts, secretsManagerUrl: string): NodeJS.ProcessEnv {
  const queueUrl = (name: string) => `http://127.0.0.1:1/000000000000/${name}`;
  return {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    // What Lambda sets for an on-demand cold start (Powertools' cold-start flags read it).
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_ENDPOINT_URL_DYNAMODB: parts.dynamoDbLocal.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManagerUrl,
    // Lambda runs Node 22, where the SDK prints no warning about the Node version.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    BENCH_STRIPE_EMULATOR_URL: parts.stripeEmulator.url,
    [ENV.serviceName]: SERVICE_NAME,
    [ENV.tracerCaptureResponse]: 'false',
    [ENV.tracerCaptureError]: 'false',
    [ENV.logLevel]: 'INFO',
    [ENV.idempotencyTableName]: parts.tables.idempotencyTableName,
    [ENV.ledgerTableName]: parts.tables.ledgerTableName,
    [ENV.stripeSecretId]: SECRET_IDS.stripe,
    [ENV.stripeWebhookSecretId]: SECRET_IDS.webhook,
    [ENV.chargeQueueUrl]: queueUrl('charge-queue'),
    [ENV.deadLetterQueueUrl]: queueUrl('dead-letter-queue'),
    [ENV.namespace]: TEST_NAMESPACE,
    [ENV.pendingGraceSeconds]: String(PENDING_GRACE_SECONDS),
    [ENV.stripeRequestsPerSecond]: String(DEFAULT_STRIPE_REQUESTS_PER_SECOND),
  };
}

/** The report section: init and first answer per function, median of RUNS fresh processes, runs interleaved across functions. */
export async function benchColdStarts(parts: LocalParts): Promise<string[]> {
  mkdirSync(BENCH_DIR, { recursive: true });
  const secretsManager = await startFakeSecretsManager({ [SECRET_IDS.stripe]: parts.stripeEmulator.apiKey, [SECRET_IDS.webhook]: WEBHOOK_SECRET });
  try {
    const requests = await firstRequests(parts);
    const baseline: Target = {
      name: 'a handler that only creates a DynamoDB client',
      entry: resolve(__dirname, 'bench-dynamodb-only.ts'),
      functionName: 'dynamoDbOnly',
      firstRequest: 'one GetItem',
      event: () => ({}),
      timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
    };
    const peer: Target = {
      name: 'Powertools-alone peer',
      entry: resolve(__dirname, 'bench-peer.ts'),
      functionName: 'peer',
      firstRequest: 'a first charge',
      event: () => postEvent(order('cold-peer')),
      timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
    };
    const functions = (Object.keys(FUNCTION_ENTRIES) as FunctionName[]).map(
      (name): Target => ({ name, entry: entryPath(name), functionName: name, ...requests[name] }),
    );
    const targets = [baseline, peer, ...functions];
    const bundles = new Map<Target, Bundle>();
    for (const target of targets) bundles.set(target, await bundle(target.entry, target.functionName));
    const harness = {
      child: (await bundle(resolve(__dirname, 'bench-cold-start-child.ts'), 'cold-start-child')).file,
      redirect: (await bundle(resolve(__dirname, 'bench-stripe-redirect.ts'), 'stripe-redirect')).file,
    };
    const env = lambdaEnvironment(parts, secretsManager.url);
    const runs = new Map<Target, ColdStart[]>(targets.map((target) => [target, []]));
    // Run by run across every function, so that the machine's noise spreads over all of them.
    for (let run = 0; run < RUNS; run += 1) {
      for (const target of targets) runs.get(target)?.push(await coldStart(target, bundles.get(target) as Bundle, harness, env, run));
    }
    const medians = new Map(
      targets.map((target) => {
        const results = runs.get(target) ?? [];
        return [target, { init: median(results.map((r) => r.initMs)), answer: median(results.map((r) => r.answerMs)) }];
      }),
    );
    const of = (target: Target) => medians.get(target) ?? { init: Number.NaN, answer: Number.NaN };
    const row = (target: Target, verdict: string) => {
      const { bytes, stripeBytes } = bundles.get(target) as Bundle;
      const { init, answer } = of(target);
      const overBaseline = init - of(baseline).init;
      return `| ${target.name} | ${target.firstRequest} | ${kib(bytes)} | ${kib(stripeBytes)} | ${init.toFixed(1)} | ${target === baseline ? '—' : signed(overBaseline)} | ${ratio(init, of(peer).init)} | ${answer.toFixed(1)} | ${ratio(answer, of(peer).answer)} | ${verdict} |`;
    };
    const verdictOf = (target: Target) => (of(target).init - of(baseline).init <= INIT_TARGET_MS ? 'met' : '**missed**');
    return [
      `## Cold start to first answer, per function (fresh \`node\` process, median of ${RUNS}; bundled as deployed, \`@aws-sdk/*\` external)`,
      '',
      `Init is loading the bundle (Lambda's init phase); first answer is the first invocation, from the call to its answer. Each function runs with the environment the stack gives it: DynamoDB Local through \`AWS_ENDPOINT_URL_DYNAMODB\`, its secrets from a fake Secrets Manager, api.stripe.com sent to the Stripe emulator; Tracer is off outside Lambda. Target: every function's init within ${INIT_TARGET_MS} ms of the handler that only creates a DynamoDB client. Runs alternate across functions.`,
      '',
      '| function | first request | bundle | of which Stripe SDK | init (ms) | init vs DynamoDB only (ms) | init ÷ peer | first answer (ms) | first answer ÷ peer | verdict (init) |',
      '|---|---|---|---|---|---|---|---|---|---|',
      row(baseline, 'reference'),
      row(peer, 'peer'),
      ...functions.map((target) => row(target, verdictOf(target))),
      '',
    ];
  } finally {
    await secretsManager.stop();
    rmSync(BENCH_DIR, { recursive: true, force: true });
  }
}

export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;
