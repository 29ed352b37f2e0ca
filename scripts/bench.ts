/**
 * `npm run bench`: the budgets of the README, measured side by side in one run against real local parts
 * (DynamoDB Local, the Stripe emulator over HTTP). Prints a Markdown report and writes it to
 * docs/benchmark.md. Numbers here are for reading and comparing, never asserted by a test.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { createDynamoDbLedger } from '../lambdas/adapters/dynamodb-ledger';
import { createIdempotentCharge } from '../lambdas/adapters/idempotent-use-cases';
import { createPersonalDataStore } from '../lambdas/adapters/personal-data';
import { createStripePayments } from '../lambdas/adapters/stripe-payments';
import { ENV } from '../lambdas/contract/environment';
import type { ChargeRequest } from '../lambdas/contract/payment-request';
import { createChargeOrder } from '../lambdas/core/charge-order';
import { entryPath, FUNCTION_BUNDLING, FUNCTION_ENTRIES } from '../lib/constructs/bundling';
import { localDynamoDbClient } from '../local/dynamodb-local';
import { lambdaContext } from '../local/lambda-context';
import { localSqsClient, startSqsEmulator } from '../local/queues';
import { forgetIdempotencyKeys, type LocalParts, startLocalParts, TEST_NAMESPACE } from '../test/support/local-parts';
import { auditReport, benchAuditAtScale } from './bench-audit';
import { burstReport, measureBurstDrain } from './bench-burst';
import { capacityReport, measureOrderCapacity } from './bench-capacity';
import { benchReconcilerThroughput, reconcilerReport } from './bench-reconciler';
import { soak } from './soak';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
// The handlers count their outcomes for a deployment, as every deployed function does.
process.env[ENV.namespace] ??= TEST_NAMESPACE;

/** Where bundles are written for the init measurement: inside the checkout, so `@aws-sdk/*` resolves as in Lambda's runtime. */
const BENCH_DIR = resolve(__dirname, '../.bench');
const INIT_RUNS = 7;
/** A module init within this of a handler that only creates a DynamoDB client meets the target. */
const INIT_TARGET_MS = 15;

async function bundle(entry: string, name: string): Promise<{ file: string; bytes: number; stripeBytes: number }> {
  const file = resolve(BENCH_DIR, `${name}.js`);
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    outfile: file,
    platform: 'node',
    format: 'cjs',
    minify: FUNCTION_BUNDLING.minify,
    target: FUNCTION_BUNDLING.target,
    mainFields: [...FUNCTION_BUNDLING.mainFields],
    external: [...FUNCTION_BUNDLING.externalModules],
    metafile: true,
  });
  const [output] = Object.values(result.metafile.outputs);
  const stripeBytes = Object.entries(output.inputs)
    .filter(([path]) => path.includes('node_modules/stripe/'))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
  return { file, bytes: output.bytes, stripeBytes };
}

/** Median milliseconds to load a module in a fresh Node process, as a cold start does. */
function initMs(file: string): number {
  const script = `const t = process.hrtime.bigint(); require(${JSON.stringify(file)}); console.log(Number(process.hrtime.bigint() - t) / 1e6);`;
  const runs = Array.from({ length: INIT_RUNS }, () =>
    Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, AWS_REGION: 'us-east-1' } }).trim()),
  );
  return runs.sort((a, b) => a - b)[Math.floor(INIT_RUNS / 2)];
}

/** Init time of each handler module, side by side with a handler that only creates a DynamoDB client; and bundle sizes. */
async function initTimes(): Promise<string[]> {
  mkdirSync(BENCH_DIR, { recursive: true });
  const baselineEntry = resolve(BENCH_DIR, 'dynamodb-only.ts');
  writeFileSync(
    baselineEntry,
    "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nconst client = new DynamoDBClient({});\nexport const handler = async () => client.config.region;\n",
  );
  const baseline = initMs((await bundle(baselineEntry, 'dynamodb-only')).file);
  // What Tracer alone costs at module load: the same handler, with the Tracer every function creates.
  const tracerEntry = resolve(BENCH_DIR, 'dynamodb-and-tracer.ts');
  writeFileSync(
    tracerEntry,
    `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nimport { tracer, traced } from '${resolve(__dirname, '../lambdas/adapters/tracing')}';\nconst client = traced(new DynamoDBClient({}));\nexport const handler = async () => [client.config.region, tracer.isTracingEnabled()];\n`,
  );
  const tracerBundle = await bundle(tracerEntry, 'dynamodb-and-tracer');
  const withTracer = initMs(tracerBundle.file);
  const rows = [
    `| a handler that only creates a DynamoDB client | — | — | ${baseline.toFixed(1)} | — | reference |`,
    `| the same, with Powertools Tracer | ${kib(tracerBundle.bytes)} | — | ${withTracer.toFixed(1)} | +${(withTracer - baseline).toFixed(1)} | what Tracer costs |`,
  ];
  for (const name of Object.keys(FUNCTION_ENTRIES) as Array<keyof typeof FUNCTION_ENTRIES>) {
    const { file, bytes, stripeBytes } = await bundle(entryPath(name), name);
    const init = initMs(file);
    const delta = init - baseline;
    rows.push(
      `| ${name} | ${kib(bytes)} | ${kib(stripeBytes)} | ${init.toFixed(1)} | ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} | ${delta <= INIT_TARGET_MS ? 'within target' : '**over target**'} |`,
    );
  }
  rmSync(BENCH_DIR, { recursive: true, force: true });
  return rows;
}

/** A DynamoDB client that counts the HTTP requests it sends (retries included). */
function countingClient(endpoint: string): { client: DynamoDBClient; requests: () => number; reset: () => void } {
  const client = localDynamoDbClient(endpoint);
  let count = 0;
  client.middlewareStack.add(
    (next) => (args) => {
      count += 1;
      return next(args);
    },
    { step: 'finalizeRequest', name: 'countRequests' },
  );
  return {
    client,
    requests: () => count,
    reset: () => {
      count = 0;
    },
  };
}

function chargeFor(parts: LocalParts, dynamoDb: DynamoDBClient) {
  const chargeOrder = createChargeOrder({
    ledger: createDynamoDbLedger(dynamoDb, parts.tables.ledgerTableName),
    payments: createStripePayments(async () => parts.stripe),
    personalData: createPersonalDataStore(dynamoDb, parts.tables.idempotencyTableName),
    origin: { channel: 'api', namespace: TEST_NAMESPACE },
  });
  return { chargeOrder, idempotent: createIdempotentCharge({ chargeOrder, dynamoDb, tableName: parts.tables.idempotencyTableName }) };
}

let orderCounter = 0;
const newOrder = (label: string): ChargeRequest => ({
  orderId: `bench-${label}-${++orderCounter}`,
  amount: 1999,
  currency: 'eur',
  paymentMethod: 'pm_card_visa',
});

async function timed(rounds: number, run: (round: number) => Promise<unknown>): Promise<{ median: number; p95: number }> {
  const samples: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const start = process.hrtime.bigint();
    await run(round);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], p95: samples[Math.floor(samples.length * 0.95)] };
}

async function main(): Promise<void> {
  const [parts, sqsEmulator] = await Promise.all([startLocalParts(), startSqsEmulator()]);
  const sqs = localSqsClient(sqsEmulator.endpoint);
  try {
    const report: string[] = [];
    report.push(
      `# Benchmark results`,
      '',
      `Run by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} cores, ${ROUNDS} rounds per latency row. DynamoDB Local and the Stripe emulator run on this machine, so latencies compare the code paths with each other; they are not AWS latencies.`,
      '',
    );

    report.push(
      `## Module init per function (fresh process, median of ${INIT_RUNS}; \`@aws-sdk/*\` external as in Lambda, minified)`,
      '',
      `The cold-start measure: loading the handler module, side by side with a handler that only creates a DynamoDB client; target within ${INIT_TARGET_MS} ms of it. Powertools Tracer, Metrics and Logger are in every handler.`,
      '',
      '| function | bundle | of which Stripe SDK | init (ms) | vs DynamoDB only (ms) | verdict |',
      '|---|---|---|---|---|---|',
      ...(await initTimes()),
      '',
    );

    const counting = countingClient(parts.dynamoDbLocal.endpoint);
    const counted = chargeFor(parts, counting.client);
    const order = newOrder('count');
    const measure = async (run: () => Promise<unknown>) => {
      counting.reset();
      const stripeBefore = parts.stripeEmulator.stats().requests;
      await run();
      return { dynamoDb: counting.requests(), stripe: parts.stripeEmulator.stats().requests - stripeBefore };
    };
    const first = await measure(() => counted.idempotent(order, lambdaContext()));
    const replay = await measure(() => counted.idempotent(order, lambdaContext()));
    await forgetIdempotencyKeys(parts);
    const afterExpiry = await measure(() => counted.idempotent(order, lambdaContext()));
    report.push(
      '## Requests per call',
      '',
      '| path | DynamoDB requests | budget | Stripe requests | budget |',
      '|---|---|---|---|---|',
      `| first charge | ${first.dynamoDb} | ≤ 4 | ${first.stripe} | 1 |`,
      `| replay (key table hit) | ${replay.dynamoDb} | 1 | ${replay.stripe} | 0 |`,
      `| replay after the key expired (ledger hit) | ${afterExpiry.dynamoDb} | — | ${afterExpiry.stripe} | 0 |`,
      '',
    );

    const { chargeOrder, idempotent } = chargeFor(parts, parts.dynamoDb);
    const plain = await timed(ROUNDS, () => chargeOrder(newOrder('plain')));
    const charged: ChargeRequest[] = [];
    const firstCharge = await timed(ROUNDS, () => {
      const next = newOrder('first');
      charged.push(next);
      return idempotent(next, lambdaContext());
    });
    const replays = await timed(ROUNDS, (round) => idempotent(charged[round], lambdaContext()));
    await forgetIdempotencyKeys(parts);
    const ledgerHits = await timed(ROUNDS, (round) => idempotent(charged[round], lambdaContext()));
    const row = (name: string, t: { median: number; p95: number }) => `| ${name} | ${t.median.toFixed(2)} | ${t.p95.toFixed(2)} |`;
    report.push(
      '## Latency per call, side by side (ms)',
      '',
      '| path | median | p95 |',
      '|---|---|---|',
      row('charge without idempotency (ledger + Stripe only)', plain),
      row('first charge through makeIdempotent', firstCharge),
      row('replay (key table hit)', replays),
      row('replay after the key expired (ledger hit)', ledgerHits),
      '',
    );

    const stormOrders = Array.from({ length: 20 }, () => newOrder('storm'));
    const createdBefore = parts.stripeEmulator.stats().paymentIntentsCreated;
    const outcomes = await Promise.allSettled(stormOrders.flatMap((o) => Array.from({ length: 20 }, () => idempotent(o, lambdaContext()))));
    const created = parts.stripeEmulator.stats().paymentIntentsCreated - createdBefore;
    const inProgress = outcomes.filter((o) => o.status === 'rejected' && (o.reason as Error).name === 'IdempotencyAlreadyInProgressError').length;
    const otherFailures = outcomes.filter((o) => o.status === 'rejected').length - inProgress;
    report.push(
      '## Duplicate storm',
      '',
      '| orders | concurrent calls per order | PaymentIntents created | answered "in progress" | other failures |',
      '|---|---|---|---|---|',
      `| ${stormOrders.length} | 20 | ${created} | ${inProgress} | ${otherFailures} |`,
      '',
    );

    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let round = 0; round < 5 * ROUNDS; round += 1) await idempotent(charged[round % charged.length], lambdaContext());
    gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    report.push(
      '## Memory',
      '',
      '| measure | value |',
      '|---|---|',
      `| heap growth over ${5 * ROUNDS} replays${gc ? ' (after GC)' : ' (no --expose-gc: includes garbage)'} | ${kib(heapAfter - heapBefore)} |`,
      `| process RSS at the end (bench, SDKs, emulator) | ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB |`,
      '',
    );

    report.push(...capacityReport(await measureOrderCapacity(parts)));

    report.push(...(await soak(parts, sqs)));

    report.push(...burstReport(await measureBurstDrain()));

    report.push(...auditReport(await benchAuditAtScale()));

    // Last: its unrelated PaymentIntents stay in its own emulator.
    report.push(...reconcilerReport(await benchReconcilerThroughput()));

    const text = report.join('\n');
    console.log(text);
    writeFileSync(resolve(__dirname, '../docs/benchmark.md'), `${text}\n`);
    counting.client.destroy();
  } finally {
    sqs.destroy();
    await Promise.all([parts.stop(), sqsEmulator.stop()]);
  }
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
