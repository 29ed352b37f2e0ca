/**
 * The audit at scale, locally: `node --expose-gc --import tsx scripts/bench-audit.ts [payments]`
 * (default 100,000) seeds that many PaymentIntents in the Stripe emulator (in process) and their
 * ledger records in DynamoDB Local (BatchWriteItem), spread over 20 hours, then runs the audit's
 * state machine over them and reports its time, its slices and the peak live heap the run added
 * above the seeded data (sampled twice a second after a full collection).
 */
import { setInterval } from 'node:timers';
import { BatchWriteItemCommand, type BatchWriteItemCommandOutput, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import Bottleneck from 'bottleneck';
import { createdIndexKeysOf } from '../lambdas/adapters/dynamodb-ledger';
import { paymentMetadata } from '../lambdas/contract/payment-metadata';
import { stripeBudgetOf } from '../lambdas/contract/stripe-budget';
import type { LedgerRecord } from '../lambdas/core/charge-order';
import { runLocalAudit } from '../local/audit-state-machine';
import { silentLogger, startLocalParts } from '../test/support/local-parts';

const NAMESPACE = 'bench-audit';
const SPREAD_HOURS = 20;
/** Hour slices of 5,000 orders each at 100 k: what a slice holds is what the run's heap grows by. */
const SLICE_SECONDS = 3600;
/** A budget whose audit compares 8 slices at once (17 requests/s): the emulator answers faster than Stripe would let. */
const BENCH_STRIPE_REQUESTS_PER_SECOND = 340;
const WRITE_BATCH = 25;

export async function benchAuditAtScale(
  options: { payments?: number } = {},
): Promise<{ payments: number; seconds: number; peakHeapMB: number; slices: number }> {
  const payments = options.payments ?? 100_000;
  const parts = await startLocalParts();
  try {
    const now = Date.now();
    const spacingMs = (SPREAD_HOURS * 3_600_000) / payments;
    const createdOf = (i: number) => Math.floor((now - 60_000 - i * spacingMs) / 1000);
    const intents = parts.stripeEmulator.seedPaymentIntents(
      Array.from({ length: payments }, (_, i) => ({
        amount: 1000,
        currency: 'eur',
        metadata: paymentMetadata(NAMESPACE, `bench-${i}`),
        created: createdOf(i),
      })),
    );
    const writes = new Bottleneck({ maxConcurrent: 8 });
    const batches: Array<Promise<unknown>> = [];
    for (let start = 0; start < payments; start += WRITE_BATCH) {
      const items = intents.slice(start, start + WRITE_BATCH).map((intent, offset) => {
        const createdAt = new Date(createdOf(start + offset) * 1000).toISOString();
        const record: LedgerRecord = {
          orderId: `bench-${start + offset}`,
          status: 'charged',
          amount: 1000,
          currency: 'eur',
          paymentId: intent.id,
          namespace: NAMESPACE,
          channel: 'api',
          createdAt,
          updatedAt: createdAt,
          attemptAt: createdAt,
        };
        return { PutRequest: { Item: marshall({ ...record, ...createdIndexKeysOf(record) }) } };
      });
      batches.push(writes.schedule(() => writeAll(parts.dynamoDb, parts.tables.ledgerTableName, items)));
    }
    await Promise.all(batches);

    // Live heap, after a full collection when --expose-gc allows it: what the run holds, not the garbage the in-process emulator leaves per page.
    const liveHeap = () => {
      globalThis.gc?.();
      return process.memoryUsage().heapUsed;
    };
    const baseline = liveHeap();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, liveHeap());
    }, 500);
    const started = performance.now();
    const verdict = await runLocalAudit(
      {
        dynamoDb: parts.dynamoDb,
        ledgerTableName: parts.tables.ledgerTableName,
        stripe: async () => parts.stripe,
        namespace: NAMESPACE,
        budget: stripeBudgetOf(BENCH_STRIPE_REQUESTS_PER_SECOND),
        inFlightSeconds: 900,
        sliceSeconds: SLICE_SECONDS,
        logger: silentLogger,
      },
      { since: `${SPREAD_HOURS + 1}h` },
    );
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    if (verdict.paymentsAtStripe !== payments || verdict.ledgerRecords !== payments || verdict.discrepancies.length + verdict.unlisted > 0) {
      throw new Error(
        `the bench audit should find ${payments} agreeing orders: ${JSON.stringify({ ...verdict, discrepancies: verdict.discrepancies.slice(0, 5) })}`,
      );
    }
    return { payments, seconds, peakHeapMB: (peak - baseline) / 2 ** 20, slices: verdict.slices };
  } finally {
    await parts.stop();
  }
}

/** One BatchWriteItem, and again with what DynamoDB left unprocessed. */
async function writeAll(dynamoDb: DynamoDBClient, tableName: string, items: WriteRequest[]): Promise<void> {
  let pending: WriteRequest[] | undefined = items;
  while (pending !== undefined && pending.length > 0) {
    const answer: BatchWriteItemCommandOutput = await dynamoDb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
    pending = answer.UnprocessedItems?.[tableName];
  }
}

/** The Markdown section of docs/benchmark.md. */
export function auditReport(result: { payments: number; seconds: number; peakHeapMB: number; slices: number }): string[] {
  return [
    '## The audit at scale',
    '',
    `${result.payments.toLocaleString('en')} PaymentIntents and their ledger records over ${SPREAD_HOURS} hours, audited by the state machine the stack deploys (run with aws-local-stepfunctions), hour slices compared ${stripeBudgetOf(BENCH_STRIPE_REQUESTS_PER_SECOND).audit.maxConcurrency} at once. Peak heap is the live heap the run added above the seeded data, after a full collection.`,
    '',
    '| PaymentIntents and records | slices | seconds | peak heap added (MB) |',
    '|---|---|---|---|',
    `| ${result.payments} | ${result.slices} | ${result.seconds.toFixed(1)} | ${result.peakHeapMB.toFixed(1)} |`,
    '',
  ];
}

if (require.main === module) {
  benchAuditAtScale({ payments: process.argv[2] === undefined ? undefined : Number(process.argv[2]) })
    .then((result) => console.table(result))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
