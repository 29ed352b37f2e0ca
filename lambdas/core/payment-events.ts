/**
 * Stripe webhook events as ledger facts. Stripe delivers events at least once and in no fixed
 * order, so each fact carries a version (the event's creation time, then how far along the payment
 * it is, then the amount refunded) and the ledger only ever moves to a higher version.
 */

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
  /** Undefined when the event does not carry it (a Charge); it is then looked up by paymentId. */
  orderId?: string;
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

/** Orders facts about one payment: by Stripe's creation time, then stage, then amount refunded. */
export function factVersion(created: number, status: WebhookStatus, amountRefunded = 0): string {
  return [String(created).padStart(12, '0'), String(STAGE[status]).padStart(2, '0'), String(amountRefunded).padStart(12, '0')].join('.');
}

/** The ledger fact an event states, or undefined for event types this project does not track. */
export function statusUpdateFrom(event: PaymentEvent): PaymentStatusUpdate | undefined {
  const object = event.data.object;
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const base = { orderId: text(metadata.orderId), amount: count(object.amount), currency: String(object.currency ?? ''), eventId: event.id };

  const intentStatus = (status: WebhookStatus, extra: Partial<PaymentStatusUpdate> = {}): PaymentStatusUpdate => ({
    ...base,
    paymentId: String(object.id),
    paymentStatus: text(object.status),
    status,
    version: factVersion(event.created, status),
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
      const refunded = count(object.amount_refunded);
      const status: WebhookStatus = refunded >= count(object.amount) ? 'refunded' : 'partially_refunded';
      return {
        ...base,
        paymentId: String(object.payment_intent),
        status,
        amountRefunded: refunded,
        version: factVersion(event.created, status, refunded),
      };
    }
    default:
      return undefined;
  }
}

export type EventOutcome = 'applied' | 'stale' | 'ignored';

export interface PaymentEventDependencies {
  /** Writes the fact unless the ledger already holds one of a higher version; false when it did. */
  applyStatusUpdate(update: PaymentStatusUpdate & { orderId: string }): Promise<boolean>;
  /** The orderId a PaymentIntent was created for (from its metadata at Stripe). */
  orderIdForPayment(paymentId: string): Promise<string | undefined>;
}

/** Applies one verified Stripe event to the ledger; safe to repeat and to reorder. */
export function createApplyPaymentEvent({ applyStatusUpdate, orderIdForPayment }: PaymentEventDependencies) {
  return async function applyPaymentEvent(event: PaymentEvent): Promise<EventOutcome> {
    const update = statusUpdateFrom(event);
    if (update === undefined) return 'ignored';
    const orderId = update.orderId ?? (await orderIdForPayment(update.paymentId));
    // A payment this service did not start (no orderId anywhere) is not ours to record.
    if (orderId === undefined) return 'ignored';
    return (await applyStatusUpdate({ ...update, orderId })) ? 'applied' : 'stale';
  };
}

export type ApplyPaymentEvent = ReturnType<typeof createApplyPaymentEvent>;
