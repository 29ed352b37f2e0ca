import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type Stripe from 'stripe';
import { createStripeEventHandling, type HandleStripeEvent } from '../../lambdas/adapters/stripe-webhooks';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { lambdaContext } from '../../local/lambda-context';
import type { StripeEvent } from '../../local/stripe-emulator/stripe-emulator';
import { chargeHandler, type LocalParts, post, serviceOptions } from './local-parts';

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
