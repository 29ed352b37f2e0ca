import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import type Stripe from 'stripe';
import { WEBHOOK_EVENT_EXPIRY_SECONDS, WEBHOOK_EVENT_KEY_PREFIX, WEBHOOK_TOLERANCE_SECONDS } from '../contract/settings';
import type { EventFeed } from '../core/catch-up-events';
import { createApplyPaymentEvent, type EventOutcome, type LedgerObserver, type PaymentEvent } from '../core/payment-events';
import { madeInNamespace, ownOrderId } from '../core/payment-ownership';
import { createApplyRefundFact } from '../core/refund-order';
import type { ChargeServiceOptions } from './charge-service';
import { createDisputeFactWriter, createLedgerFactWriter, createRefundsLedger } from './dynamodb-ledger';
import { keyTablePersistence } from './idempotent-use-cases';
import { isStripeNotFound } from './stripe-payments';
import { verifiedStripeEvent } from './stripe-signature';

/** Checks the `Stripe-Signature` header against the exact raw body; throws InvalidSignatureError. */
export type VerifyStripeEvent = (rawBody: string, signature: string) => Promise<PaymentEvent>;

export function createStripeEventVerifier(getSigningSecret: () => Promise<string>): VerifyStripeEvent {
  return async (rawBody, signature) => {
    // A trailing newline from `put-secret-value "$(cat file)"` must not reject every delivery.
    const secret = (await getSigningSecret()).trim();
    return verifiedStripeEvent(rawBody, signature, secret, WEBHOOK_TOLERANCE_SECONDS) as PaymentEvent;
  };
}

/** What a delivery did: a new event's outcome, or `duplicate` for an event id already processed. */
export type DeliveryOutcome = EventOutcome | 'duplicate';
export type HandleStripeEvent = (event: PaymentEvent, context?: Context) => Promise<DeliveryOutcome>;

/** The same tables and Stripe client as the charges. */
export type StripeEventHandlingOptions = ChargeServiceOptions;

/**
 * Applies verified events to the ledger, each event id once: the key table (own key prefix,
 * remembered longer than Stripe's three days of retries) turns a redelivery into `duplicate`.
 */
export function createStripeEventHandling(
  { dynamoDb, idempotencyTableName, ledgerTableName, stripe, namespace }: StripeEventHandlingOptions,
  /** Told of the changes that need a person (the alarms count them). */
  observer?: LedgerObserver,
): HandleStripeEvent {
  const applyPaymentEvent = createApplyPaymentEvent({
    namespace,
    applyStatusUpdate: createLedgerFactWriter(dynamoDb, ledgerTableName),
    applyRefundUpdate: createApplyRefundFact({ ledger: createRefundsLedger(dynamoDb, ledgerTableName), observer }),
    applyDisputeUpdate: createDisputeFactWriter(dynamoDb, ledgerTableName, observer),
    // Stripe copies the PaymentIntent's metadata onto its Charge, not onto a Refund made in the
    // Dashboard or a Dispute: for those, ask Stripe whose PaymentIntent it is.
    orderIdForPayment: async (paymentId) => {
      try {
        const intent = await (await stripe()).paymentIntents.retrieve(paymentId);
        const madeIn = madeInNamespace(intent);
        const orderId = madeIn === undefined ? undefined : ownOrderId(madeIn, intent);
        return orderId === undefined || madeIn === undefined ? undefined : { orderId, namespace: madeIn };
      } catch (error) {
        // Not a PaymentIntent this account knows: not ours. Anything else is retried by Stripe.
        if (isStripeNotFound(error)) return undefined;
        throw error;
      }
    },
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'id',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: WEBHOOK_EVENT_EXPIRY_SECONDS,
    responseHook: () => 'duplicate',
  });
  const persistenceStore = keyTablePersistence(dynamoDb, idempotencyTableName);
  const applyOnce = makeIdempotent(applyPaymentEvent, { persistenceStore, config, keyPrefix: WEBHOOK_EVENT_KEY_PREFIX });
  return (event, context) => {
    if (context !== undefined) config.registerLambdaContext(context);
    return applyOnce(event) as Promise<DeliveryOutcome>;
  };
}

/** Stripe's Events API as the catch-up's feed: every page of the listing of a time slice. */
export function createStripeEventFeed(getClient: () => Promise<Stripe>): EventFeed {
  return {
    async *eventsBetween(from, until, types) {
      const stripe = await getClient();
      for await (const event of stripe.events.list({ created: { gte: from, lt: until }, types: [...types], limit: 100 })) {
        yield event as unknown as PaymentEvent;
      }
    },
  };
}

/** Powertools' answer to a delivery of an event another delivery is still applying. */
export const isEventInProgress = (error: unknown) => error instanceof Error && error.name === 'IdempotencyAlreadyInProgressError';
