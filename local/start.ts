// The functions' metrics are EMF lines in their logs; locally they would fill the terminal. Set it to false to see them.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// A dev server prints one line per request; the handlers' structured logs only when asked:
// LOG_FORMAT=json as Lambda writes them, POWERTOOLS_DEV=true pretty-printed, or any POWERTOOLS_LOG_LEVEL.
const handlerLogsAsked = process.env.LOG_FORMAT === 'json' || process.env.POWERTOOLS_DEV === 'true' || process.env.POWERTOOLS_LOG_LEVEL !== undefined;
if (!handlerLogsAsked) process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

import './node-version-warning';
import { ORDER_ID_PATTERN } from '../lambdas/contract/payment-request';
import type { AnsweredRequest } from './api-server';
import { settingsFromEnvironment, startLocalRuntime } from './runtime';
import { writeRuntimeFile } from './runtime-file';

/** `npm start`: the local API with its embedded parts; Ctrl-C (or a crash) stops all of them. */
async function main(): Promise<void> {
  const runtime = await startLocalRuntime({ ...settingsFromEnvironment(), onRequest: (request) => console.log(requestLine(request)) });
  const removeRuntimeFile = writeRuntimeFile({ pid: process.pid, url: runtime.url, sqsEndpoint: runtime.sqsEndpoint, queues: runtime.queues });
  let stopping = false;
  const shutdown = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    removeRuntimeFile();
    await runtime.stop();
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('uncaughtException', (error) => {
    console.error('local runtime crashed:', error);
    void shutdown(1);
  });

  // A secret the user gave (perhaps from \`stripe listen\`) is not echoed; the one generated here is for local use only.
  const webhookSecret = process.env.STRIPE_WEBHOOK_SECRET ? 'from STRIPE_WEBHOOK_SECRET' : runtime.stripeWebhookSecret;
  const stripe = runtime.stripeEmulator ? `Stripe emulator at ${runtime.stripeEmulator.url}` : 'Stripe at the configured key';
  console.log(`Local payments API ready at ${runtime.url}
  DynamoDB: ${runtime.dynamoDbEndpoint}
  SQS:      ${runtime.sqsEndpoint} (charge queue and dead-letter queue, polled by the worker)
  Stripe:   ${stripe}
  Webhooks: POST ${runtime.url}/webhooks/stripe, signing secret ${webhookSecret}
  Namespace at Stripe: ${runtime.namespace}; the reconciler runs every ${runtime.reconcileIntervalSeconds} s (grace ${runtime.pendingGraceSeconds} s),
  the Events API catch-up every ${runtime.eventsCatchUpIntervalSeconds} s

Try it:
  curl -i -X POST ${runtime.url}/payments -H 'Content-Type: application/json' \\
    -d '{"orderId":"order-1","amount":1999,"currency":"eur","paymentMethod":"pm_card_visa"}'
  curl -i -X POST ${runtime.url}/payments/async -H 'Content-Type: application/json' \\
    -d '{"orderId":"order-2","amount":1999,"currency":"eur","paymentMethod":"pm_card_visa"}'
  curl -i ${runtime.url}/payments/order-2
  curl -i -X POST ${runtime.url}/payments/order-1/refunds -H 'Content-Type: application/json' \\
    -d '{"refundId":"refund-1","amount":500}'
  npm run dlq:inspect -- --local
  npm run reconcile -- --local
  npm run events:catch-up -- --local
  npm run smoke -- --local

One line per request below; the handlers' logs with LOG_FORMAT=json (or POWERTOOLS_DEV=true to pretty-print).
Press Ctrl-C to stop.`);
}

/** `POST /payments 201 182 ms order-1`; an orderId the contract would refuse is not echoed (it may hold anything, newlines too). */
function requestLine({ method, path, statusCode, milliseconds, orderId }: AnsweredRequest): string {
  const order = orderId === undefined ? '' : new RegExp(ORDER_ID_PATTERN).test(orderId) ? ` ${orderId}` : ' (invalid orderId)';
  return `${method} ${path} ${statusCode} ${milliseconds} ms${order}`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
