/**
 * `npm run bench`: the budgets of the README, measured side by side in one run against real local parts
 * (DynamoDB Local, the Stripe emulator over HTTP). Prints a Markdown report and writes it to
 * docs/benchmark.md. Numbers here are for reading and comparing, never asserted by a test.
 * `BENCH_ONLY=latency,cold-start npm run bench` runs only the sections named (SECTIONS) and only prints them.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { createChargeService } from '../lambdas/adapters/charge-service';
import { ENV } from '../lambdas/contract/environment';
import type { ChargeRequest } from '../lambdas/contract/payment-request';
import { lambdaContext } from '../local/lambda-context';
import { localSqsClient, startSqsEmulator } from '../local/queues';
import { serviceOptions, startLocalParts, TEST_NAMESPACE } from '../test/support/local-parts';
import { auditReport, benchAuditAtScale } from './bench-audit';
import { burstReport, measureBurstDrain } from './bench-burst';
import { capacityReport, measureOrderCapacity } from './bench-capacity';
import { benchColdStarts, kib } from './bench-cold-start';
import { benchAgainstPeer } from './bench-latency';
import { benchReconcilerThroughput, reconcilerReport } from './bench-reconciler';
import { soak } from './soak';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
// The handlers count their outcomes for a deployment, as every deployed function does.
process.env[ENV.namespace] ??= TEST_NAMESPACE;

const SECTIONS = ['cold-start', 'latency', 'storm', 'memory', 'capacity', 'soak', 'burst', 'audit', 'reconciler'] as const;
type Section = (typeof SECTIONS)[number];

/** `BENCH_ONLY=latency,cold-start`: only those sections, printed, and docs/benchmark.md left as it is. */
function sectionsToRun(): Section[] | undefined {
  const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
  const unknown = only?.filter((name) => !(SECTIONS as readonly string[]).includes(name)) ?? [];
  if (unknown.length > 0) throw new Error(`BENCH_ONLY names no section ${unknown.join(', ')}; the sections are ${SECTIONS.join(', ')}`);
  return only as Section[] | undefined;
}

let orderCounter = 0;
const newOrder = (label: string): ChargeRequest => ({
  orderId: `bench-${label}-${++orderCounter}`,
  amount: 1999,
  currency: 'eur',
  paymentMethod: 'pm_card_visa',
});

async function main(): Promise<void> {
  const only = sectionsToRun();
  const runs = (section: Section) => only === undefined || only.includes(section);
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

    // First: the catch-up's cold start re-reads the Stripe events of the last minutes, fewer before the latency rows.
    if (runs('cold-start')) report.push(...(await benchColdStarts(parts)));

    if (runs('latency')) report.push(...(await benchAgainstPeer(parts, ROUNDS)));

    const idempotent = createChargeService(serviceOptions(parts), 'api');
    if (runs('storm')) {
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
    }

    if (runs('memory')) {
      const charged = Array.from({ length: ROUNDS }, () => newOrder('memory'));
      for (const order of charged) await idempotent(order, lambdaContext());
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
    }

    if (runs('capacity')) report.push(...capacityReport(await measureOrderCapacity(parts)));

    if (runs('soak')) report.push(...(await soak(parts, sqs)));

    if (runs('burst')) report.push(...burstReport(await measureBurstDrain()));

    if (runs('audit')) report.push(...auditReport(await benchAuditAtScale()));

    // Last: its unrelated PaymentIntents stay in its own emulator.
    if (runs('reconciler')) report.push(...reconcilerReport(await benchReconcilerThroughput()));

    const text = report.join('\n');
    console.log(text);
    if (only === undefined) writeFileSync(resolve(__dirname, '../docs/benchmark.md'), `${text}\n`);
  } finally {
    sqs.destroy();
    await Promise.all([parts.stop(), sqsEmulator.stop()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
