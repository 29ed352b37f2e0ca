/**
 * Stripe webhook events as ledger facts. Stripe delivers events at least once and in no fixed
 * order, so each fact carries a version (the event's creation time, then how far along the payment
 * it is, then the amount refunded) and the ledger only ever moves to a higher version.
 */

import { BEFORE_NAMESPACES } from '../contract/payment-metadata';
import { namesAnOrder, ownOrderId } from './payment-ownership';

/** The parts of a Stripe event this project reads (kept free of the Stripe SDK's types). */
export interface PaymentEvent {
  id: string;
  type: string;
  created: number;
  data: { object: Record<string, unknown> };
}

export type WebhookStatus = 'requires_action' | 'declined' | 'canceled' | 'charged' | 'partially_refunded' | 'refunded';

/** Within one second, a later stage of a payment wins over an earlier one. */
const STAGE: Record<WebhookStatus, number> = {
  requires_action: 1,
  declined: 2,
  canceled: 3,
  charged: 4,
  partially_refunded: 5,
  refunded: 6,
};

export interface PaymentStatusUpdate {
  /** The order, when the event's object is this deployment's (payment-ownership.ts); otherwise undefined. */
  orderId?: string;
  /**
   * The namespace the payment was made in: this deployment's, or BEFORE_NAMESPACES for a payment
   * made before namespaces. The fact lands only on a record of that same namespace.
   */
  namespace: string;
  paymentId: string;
  status: WebhookStatus;
  paymentStatus?: string;
  amount: number;
  currency: string;
  declineCode?: string;
  amountRefunded?: number;
  /** Sortable as a string: a fact only replaces one with a smaller version. */
  version: string;
  eventId: string;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const count = (value: unknown): number => (typeof value === 'number' ? value : 0);

/**
 * Orders facts about one payment: by Stripe's creation time (seconds), then stage, then amount
 * refunded, and last by event id, so even two events of the same second end in one state
 * whatever order they arrive in. The charge path's own fact has no event id and yields to them.
 */
export function factVersion(created: number, status: WebhookStatus, amountRefunded = 0, eventId = ''): string {
  return [String(created).padStart(12, '0'), String(STAGE[status]).padStart(2, '0'), String(amountRefunded).padStart(12, '0'), eventId].join('.');
}

/** The ledger fact an event states, or undefined for event types this project does not track. */
export function statusUpdateFrom(event: PaymentEvent, namespace: string): PaymentStatusUpdate | undefined {
  const object = event.data.object;
  // This deployment's payments, and those it made before it had a namespace.
  const madeIn = [namespace, BEFORE_NAMESPACES].find((candidate) => ownOrderId(candidate, object) !== undefined) ?? namespace;
  const base = {
    orderId: ownOrderId(madeIn, object),
    namespace: madeIn,
    amount: count(object.amount),
    currency: String(object.currency ?? ''),
    eventId: event.id,
  };

  const intentStatus = (status: WebhookStatus, extra: Partial<PaymentStatusUpdate> = {}): PaymentStatusUpdate => ({
    ...base,
    paymentId: String(object.id),
    paymentStatus: text(object.status),
    status,
    version: factVersion(event.created, status, 0, event.id),
    ...extra,
  });

  switch (event.type) {
    case 'payment_intent.succeeded':
      return intentStatus('charged');
    case 'payment_intent.payment_failed': {
      const lastError = (object.last_payment_error ?? {}) as Record<string, unknown>;
      return intentStatus('declined', { declineCode: text(lastError.decline_code) ?? text(lastError.code) ?? 'card_declined' });
    }
    case 'payment_intent.canceled':
      return intentStatus('canceled');
    case 'charge.refunded': {
      // A Charge made without a PaymentIntent (the legacy Charges API) is none of this service's.
      const paymentId = text(object.payment_intent);
      if (paymentId === undefined) return undefined;
      const refunded = count(object.amount_refunded);
      const status: WebhookStatus = object.refunded === true ? 'refunded' : 'partially_refunded';
      return { ...base, paymentId, status, amountRefunded: refunded, version: factVersion(event.created, status, refunded, event.id) };
    }
    default:
      return undefined;
  }
}

/**
 * What writing a fact did. `conflict`: the ledger holds another PaymentIntent, amount or currency
 * for this order. `unknown_order`: the ledger has no record of the order, although it writes
 * `pending` before every Stripe call, so the event cannot be about a payment of ours. Neither
 * writes anything.
 */
export type FactOutcome = 'applied' | 'stale' | 'conflict' | 'unknown_order';
/** `ignored`: an event type this project does not track, or a payment this deployment did not make. */
export type EventOutcome = FactOutcome | 'ignored';

export interface PaymentEventDependencies {
  /** This deployment's namespace: only payments carrying it are ours. */
  namespace: string;
  /** Writes the fact unless the ledger holds a newer one (`stale`), another payment (`conflict`) or no such order. */
  applyStatusUpdate(update: PaymentStatusUpdate & { orderId: string }): Promise<FactOutcome>;
  /** The order (and the namespace it was made in) a PaymentIntent of this deployment was created for, or undefined if it is not one. */
  orderIdForPayment(paymentId: string): Promise<{ orderId: string; namespace: string } | undefined>;
}

/** Applies one verified Stripe event to the ledger; safe to repeat and to reorder. */
export function createApplyPaymentEvent({ namespace, applyStatusUpdate, orderIdForPayment }: PaymentEventDependencies) {
  return async function applyPaymentEvent(event: PaymentEvent): Promise<EventOutcome> {
    const update = statusUpdateFrom(event, namespace);
    if (update === undefined) return 'ignored';
    // A Charge that names no order at all is traced through its PaymentIntent; anything naming
    // an order that is not ours (another system, another deployment) is not ours to record.
    const traceCharge = update.orderId === undefined && event.type.startsWith('charge.') && !namesAnOrder(event.data.object);
    const traced = traceCharge ? await orderIdForPayment(update.paymentId) : undefined;
    const orderId = traced?.orderId ?? update.orderId;
    if (orderId === undefined) return 'ignored';
    return applyStatusUpdate({ ...update, orderId, namespace: traced?.namespace ?? update.namespace });
  };
}
