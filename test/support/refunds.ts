import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/adapters/stripe-payments';
import { createStripeEventHandling, type HandleStripeEvent } from '../../lambdas/adapters/stripe-webhooks';
import type { PaymentEvent } from '../../lambdas/core/payment-events';
import { ledgerChangeMetrics, serviceMetrics } from '../../lambdas/handlers/outcome-metrics';
import { createStripeWebhookHandler } from '../../lambdas/handlers/stripe-webhook';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { lambdaContext } from '../../local/lambda-context';
import { type StripeEvent, startStripeEmulator } from '../../local/stripe-emulator/stripe-emulator';
import { createTables, localTableNames } from '../../local/tables';
import { chargeHandler, type LocalParts, post, postEvent, serviceOptions, silentLogger, TEST_NAMESPACE } from './local-parts';

/** What every refund test charges: refunds are parts of it. */
export const CHARGED_AMOUNT = 10_000;

/** Charges the order through the charge handler as deployed; its answer's status, and the PaymentIntent (a declined one's too). */
export async function chargeOrder(
  parts: LocalParts,
  orderId: string,
  { paymentMethod = 'pm_card_visa', description }: { paymentMethod?: string; description?: string } = {},
): Promise<{ orderId: string; paymentId: string; statusCode: number }> {
  const answer = await post(chargeHandler(parts), {
    orderId,
    amount: CHARGED_AMOUNT,
    currency: 'eur',
    paymentMethod,
    ...(description !== undefined && { description }),
  });
  const body = JSON.parse(answer.body);
  return { orderId, paymentId: body.paymentId ?? body.error?.details?.paymentId, statusCode: answer.statusCode };
}

/** Every refund Stripe holds for the PaymentIntent, through the real SDK. */
export async function refundsAtStripe(parts: LocalParts, paymentId: string): Promise<Stripe.Refund[]> {
  const refunds: Stripe.Refund[] = [];
  for await (const refund of parts.stripe.refunds.list({ payment_intent: paymentId, limit: 100 })) refunds.push(refund);
  return refunds;
}

/**
 * The production webhook handling (minus the signature check): every event the emulator emitted
 * about the payment and not yet in `delivered`, once, in the order Stripe made them.
 */
export async function deliverWebhooksOf(
  parts: LocalParts,
  paymentId: string,
  delivered = new Set<string>(),
  handle: HandleStripeEvent = createStripeEventHandling(serviceOptions(parts)),
): Promise<void> {
  const about = (event: StripeEvent) => {
    const object = event.data.object as { id?: string; payment_intent?: string };
    return object.id === paymentId || object.payment_intent === paymentId;
  };
  for (const event of parts.stripeEmulator.webhooks.events().filter(about)) {
    if (delivered.has(event.id)) continue;
    delivered.add(event.id);
    await handle(event as never, lambdaContext());
  }
}

/** A real DynamoDB client whose ledger requests pass through `hook` (which calls `send` to let the request through); the caller destroys it. */
export function hookedLedgerClient(parts: LocalParts, hook: (command: string, send: () => Promise<unknown>) => Promise<unknown>): DynamoDBClient {
  const client = localDynamoDbClient(parts.dynamoDbLocal.endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const table = (args.input as { TableName?: string }).TableName;
      if (table !== parts.tables.ledgerTableName) return next(args);
      return hook(context.commandName ?? '', () => next(args)) as never;
    },
    { step: 'initialize', name: 'ledgerHook' },
  );
  return client;
}

/** The shared DynamoDB Local with fresh tables, and a Stripe emulator of its own: its Events API lists only this test's events. */
export async function withOwnStripe(shared: LocalParts, cleanups: Array<() => unknown>): Promise<LocalParts> {
  const stripeEmulator = await startStripeEmulator();
  const tables = localTableNames(`o${randomUUID().slice(0, 8)}-`);
  await createTables(shared.dynamoDb, tables);
  cleanups.push(() => stripeEmulator.stop());
  return { ...shared, tables, stripeEmulator, stripe: createStripeClient(stripeEmulator.apiKey, stripeEmulator.url), stop: async () => undefined };
}

/** POST /webhooks/stripe as deployed (its signature taken as verified), counting into metrics of its own: `count` reads them. */
export function countingWebhook(parts: LocalParts, dynamoDb: DynamoDBClient = parts.dynamoDb) {
  const metrics = serviceMetrics(TEST_NAMESPACE);
  const counted = jest.spyOn(metrics, 'addMetric');
  const handler = createStripeWebhookHandler(
    async (rawBody) => JSON.parse(rawBody) as PaymentEvent,
    createStripeEventHandling(serviceOptions(parts, dynamoDb), ledgerChangeMetrics(metrics)),
    silentLogger,
    metrics,
  );
  const deliver = async (event: unknown) => {
    const request = postEvent(event);
    const answer = await handler({ ...request, headers: { ...request.headers, 'Stripe-Signature': 't=1,v1=verified-elsewhere' } }, lambdaContext());
    expect(answer.statusCode).toBe(200);
  };
  const count = (name: string) => counted.mock.calls.filter(([metric]) => metric === name).reduce((sum, [, , value]) => sum + Number(value ?? 1), 0);
  return { deliver, count };
}
