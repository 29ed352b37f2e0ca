/**
 * What one order costs DynamoDB and CloudWatch Logs, measured on real local parts: write units by
 * table and index (DynamoDB Local reports `ConsumedCapacity` as DynamoDB does) and log bytes, for a
 * charge, the webhooks Stripe sends for it, and a refund. `npm run bench` prints it; alone:
 * `node --import tsx scripts/bench-capacity.ts`.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import Stripe from 'stripe';
import { createChargeService, createRefundService } from '../lambdas/adapters/charge-service';
import { createStripeEventHandling, createStripeEventVerifier } from '../lambdas/adapters/stripe-webhooks';
import { ENV } from '../lambdas/contract/environment';
import { ledgerTable } from '../lambdas/contract/tables';
import { createChargePaymentHandler } from '../lambdas/handlers/charge-payment';
import type { ApiHandler } from '../lambdas/handlers/http-responses';
import { createRefundPaymentHandler } from '../lambdas/handlers/refund-payment';
import { createStripeWebhookHandler } from '../lambdas/handlers/stripe-webhook';
import { localDynamoDbClient } from '../local/dynamodb-local';
import { lambdaContext } from '../local/lambda-context';
import { type ConsumedWrite, recordConsumedWrites } from '../test/support/consumed-capacity';
import { type LocalParts, postEvent as postEventOf, refundEvent, serviceOptions, startLocalParts, TEST_NAMESPACE } from '../test/support/local-parts';

process.env[ENV.namespace] ??= TEST_NAMESPACE;
/** The webhook signing secret the bench's webhook handlers verify with. */
export const WEBHOOK_SECRET = 'whsec_bench_capacity';
const ORDERS = 20;
/** Lambda's own START, END and REPORT lines per invocation (measured in AWS for the reconciler: about 0.4 KB). */
const PLATFORM_LOG_BYTES_PER_INVOCATION = 400;

export interface CapacityRow {
  step: string;
  invocations: number;
  keyTableUnits: number;
  ledgerUnits: number;
  indexUnits: Record<string, number>;
  logBytes: number;
}

/** Everything a handler writes to stdout and stderr (its JSON log lines and metrics) while `run` runs. */
export async function loggedBytes<T>(run: () => Promise<T>): Promise<{ result: T; bytes: number }> {
  let bytes = 0;
  const writes = [process.stdout.write, process.stderr.write] as const;
  const counting = (chunk: unknown) => {
    bytes += Buffer.byteLength(String(chunk));
    return true;
  };
  process.stdout.write = counting as typeof process.stdout.write;
  process.stderr.write = counting as typeof process.stderr.write;
  try {
    return { result: await run(), bytes };
  } finally {
    [process.stdout.write, process.stderr.write] = writes;
  }
}

/** A webhook delivery of `event` as API Gateway hands it over, signed with WEBHOOK_SECRET. */
export function webhookDelivery(signer: Stripe, event: unknown): APIGatewayProxyEvent {
  const payload = JSON.stringify(event);
  const signature = signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
  return {
    httpMethod: 'POST',
    path: '/webhooks/stripe',
    resource: '/webhooks/stripe',
    headers: { 'Stripe-Signature': signature },
    body: payload,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEvent;
}

/** Units and log bytes per order, averaged over ORDERS orders, for each step of an order's life. */
export async function measureOrderCapacity(parts: LocalParts): Promise<CapacityRow[]> {
  const client = localDynamoDbClient(parts.dynamoDbLocal.endpoint);
  const writes = recordConsumedWrites(client);
  const options = serviceOptions(parts, client);
  // The handlers as deployed: Powertools Logger at INFO and Metrics, writing to stdout.
  const charge = createChargePaymentHandler(createChargeService(options, 'api'));
  const refund = createRefundPaymentHandler(createRefundService(options));
  const webhook = createStripeWebhookHandler(
    createStripeEventVerifier(async () => WEBHOOK_SECRET),
    createStripeEventHandling(options),
  );
  const signer = new Stripe('sk_test_signer');

  const rows: CapacityRow[] = [];
  const step = async (name: string, perOrder: (orderId: string) => Promise<number>) => {
    writes.length = 0;
    let invocations = 0;
    const { bytes } = await loggedBytes(async () => {
      for (let order = 0; order < ORDERS; order += 1) invocations += await perOrder(`bench-capacity-${order}`);
    });
    rows.push(rowOf(name, writes, parts, invocations / ORDERS, bytes / ORDERS));
  };
  const invoke = async (handler: ApiHandler, event: APIGatewayProxyEvent) => {
    const { statusCode } = await handler(event, lambdaContext());
    if (statusCode >= 300) throw new Error(`bench step answered ${statusCode}`);
    return 1;
  };
  /** The events Stripe created between two counts, delivered in order, each once. */
  const eventsSince = () => parts.stripeEmulator.webhooks.events().length;
  const deliver = async (from: number, to: number) => {
    for (const event of parts.stripeEmulator.webhooks.events().slice(from, to)) await invoke(webhook, webhookDelivery(signer, event));
    return to - from;
  };

  const chargeEvents = new Map<string, [number, number]>();
  await step('charge (`POST /payments`, a card that succeeds)', async (orderId) => {
    const from = eventsSince();
    await invoke(charge, postEventOf({ orderId, amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa', description: 'two pairs of socks' }));
    chargeEvents.set(orderId, [from, eventsSince()]);
    return 1;
  });
  await step("the charge's webhooks, each delivered once", async (orderId) => deliver(...(chargeEvents.get(orderId) ?? [0, 0])));
  await step('a partial refund (`POST /payments/{orderId}/refunds`) and its webhooks', async (orderId) => {
    const from = eventsSince();
    await invoke(refund, refundEvent(orderId, { refundId: 'r-1', amount: 500 }));
    return 1 + (await deliver(from, eventsSince()));
  });
  client.destroy();
  return rows;
}

function rowOf(step: string, writes: ConsumedWrite[], parts: LocalParts, invocations: number, logBytes: number): CapacityRow {
  const perOrder = (units: number) => units / ORDERS;
  const indexUnits: Record<string, number> = Object.fromEntries((ledgerTable.indexes ?? []).map(({ indexName }) => [indexName, 0]));
  let keyTableUnits = 0;
  let ledgerUnits = 0;
  for (const write of writes) {
    if (write.table === parts.tables.idempotencyTableName) keyTableUnits += write.tableUnits;
    if (write.table !== parts.tables.ledgerTableName) continue;
    ledgerUnits += write.tableUnits;
    for (const [index, units] of Object.entries(write.indexUnits)) indexUnits[index] = (indexUnits[index] ?? 0) + units;
  }
  return {
    step,
    invocations,
    keyTableUnits: perOrder(keyTableUnits),
    ledgerUnits: perOrder(ledgerUnits),
    indexUnits: Object.fromEntries(Object.entries(indexUnits).map(([index, units]) => [index, perOrder(units)])),
    logBytes: logBytes + invocations * PLATFORM_LOG_BYTES_PER_INVOCATION,
  };
}

/** The Markdown section of docs/benchmark.md. */
export function capacityReport(rows: CapacityRow[]): string[] {
  const indexes = Object.keys(rows[0]?.indexUnits ?? {});
  const total = (row: CapacityRow) => row.keyTableUnits + row.ledgerUnits + Object.values(row.indexUnits).reduce((sum, units) => sum + units, 0);
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  const fmt = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(2));
  return [
    `## Write units and log bytes per order (${ORDERS} orders, DynamoDB Local's ConsumedCapacity)`,
    '',
    `Log bytes are what the handlers print (JSON logs at INFO and EMF metrics) plus ${PLATFORM_LOG_BYTES_PER_INVOCATION} bytes of Lambda's START/END/REPORT lines per invocation.`,
    '',
    line(['step', 'invocations', 'key table WRU', 'ledger WRU', ...indexes.map((index) => `${index} WRU`), 'all WRU', 'log bytes']),
    line(Array.from({ length: indexes.length + 6 }, () => '---')),
    ...rows.map((row) =>
      line([
        row.step,
        fmt(row.invocations),
        fmt(row.keyTableUnits),
        fmt(row.ledgerUnits),
        ...indexes.map((index) => fmt(row.indexUnits[index])),
        fmt(total(row)),
        fmt(Math.round(row.logBytes)),
      ]),
    ),
    '',
  ];
}

if (require.main === module) {
  (async () => {
    const parts = await startLocalParts();
    try {
      console.log(capacityReport(await measureOrderCapacity(parts)).join('\n'));
    } finally {
      await parts.stop();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
