// The functions' metrics are EMF lines in their logs; locally they would fill the terminal. Set it to false to see them.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// The pinned AWS SDK warns that its releases after early 2027 need Node 22: known (README), and not what npm start should open with.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { writeRuntimeFile } from './runtime-file';
import { settingsFromEnvironment, startLocalRuntime } from './runtime';

/** `npm start`: the local API with its embedded parts; Ctrl-C (or a crash) stops all of them. */
async function main(): Promise<void> {
  const runtime = await startLocalRuntime(settingsFromEnvironment());
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

  const stripe = runtime.stripeEmulator ? `Stripe emulator at ${runtime.stripeEmulator.url}` : 'Stripe at the configured key';
  console.log(`Local payments API ready at ${runtime.url}
  DynamoDB: ${runtime.dynamoDbEndpoint}
  SQS:      ${runtime.sqsEndpoint} (charge queue and dead-letter queue, polled by the worker)
  Stripe:   ${stripe}
  Webhooks: POST ${runtime.url}/webhooks/stripe, signing secret ${runtime.stripeWebhookSecret}
  Namespace at Stripe: ${runtime.namespace}; the reconciler runs every ${runtime.reconcileIntervalSeconds} s (grace ${runtime.pendingGraceSeconds} s)

Try it:
  curl -i -X POST ${runtime.url}/payments -H 'Content-Type: application/json' \\
    -d '{"orderId":"order-1","amount":1999,"currency":"eur","paymentMethod":"pm_card_visa"}'
  curl -i -X POST ${runtime.url}/payments/async -H 'Content-Type: application/json' \\
    -d '{"orderId":"order-2","amount":1999,"currency":"eur","paymentMethod":"pm_card_visa"}'
  curl -i ${runtime.url}/payments/order-2
  npm run dlq:inspect -- --local
  npm run reconcile -- --local

Press Ctrl-C to stop.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
