/**
 * Stripe webhook events as ledger facts. Stripe delivers events at least once and in no fixed
 * order, so each fact carries a version (the event's creation time, then how far along the payment
 * it is, then the amount refunded) and the ledger only ever moves to a higher version.
 */

import { PAYMENT_METADATA } from '../contract/payment-metadata';

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
  /** Undefined when a Charge event does not carry it; it is then looked up by paymentId. */
  orderId?: string;
  /** The event says the payment was made by this service (PAYMENT_METADATA's marker). */
  ours: boolean;
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
export function statusUpdateFrom(event: PaymentEvent): PaymentStatusUpdate | undefined {
  const object = event.data.object;
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const base = {
    orderId: text(metadata[PAYMENT_METADATA.orderId]),
    ours: metadata[PAYMENT_METADATA.marker] === PAYMENT_METADATA.markerValue,
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

/** `conflict`: the ledger holds another PaymentIntent for this order; nothing is written. */
export type EventOutcome = 'applied' | 'stale' | 'conflict' | 'ignored';

export interface PaymentEventDependencies {
  /**
   * Writes the fact unless the ledger holds a newer one (`stale`) or a different PaymentIntent for
   * the order (`conflict`).
   */
  applyStatusUpdate(update: PaymentStatusUpdate & { orderId: string }): Promise<'applied' | 'stale' | 'conflict'>;
  /** The orderId a PaymentIntent of this service was created for, or undefined if it is not one. */
  orderIdForPayment(paymentId: string): Promise<string | undefined>;
}

/** Applies one verified Stripe event to the ledger; safe to repeat and to reorder. */
export function createApplyPaymentEvent({ applyStatusUpdate, orderIdForPayment }: PaymentEventDependencies) {
  return async function applyPaymentEvent(event: PaymentEvent): Promise<EventOutcome> {
    const update = statusUpdateFrom(event);
    if (update === undefined) return 'ignored';
    // PaymentIntents carry the marker; only a Charge that came without metadata is looked up.
    const lookUp = update.orderId === undefined && event.type.startsWith('charge.');
    const orderId = update.ours ? update.orderId : lookUp ? await orderIdForPayment(update.paymentId) : undefined;
    // A payment this service did not make is not ours to record, whatever its metadata says.
    if (orderId === undefined) return 'ignored';
    return applyStatusUpdate({ ...update, orderId });
  };
}
