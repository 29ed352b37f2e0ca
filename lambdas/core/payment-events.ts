/**
 * Stripe events as ledger facts, from webhooks and from the Events API catch-up alike. Stripe
 * delivers events at least once and in no fixed order, so each fact carries a version (the event's
 * creation time, then how far along the payment, refund or dispute it is) and the ledger only ever
 * moves to a higher version.
 */

import { BEFORE_NAMESPACES, PAYMENT_METADATA } from '../contract/payment-metadata';
import { madeInNamespace, metadataOf, ownOrderId } from './payment-ownership';
import { type RefundFact, refundFactVersion, type StripeRefundStatus } from './refund-order';

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
  /** The order, when the event's object is this service's (payment-ownership.ts); otherwise undefined. */
  orderId?: string;
  /**
   * The namespace the payment was made in (BEFORE_NAMESPACES for a payment made before namespaces).
   * The fact lands only on a record of that same namespace.
   */
  namespace: string;
  paymentId: string;
  status: WebhookStatus;
  paymentStatus?: string;
  amount: number;
  currency: string;
  declineCode?: string;
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

/**
 * Told of the ledger changes that need a person (the alarms count them), however they came: a
 * webhook, the catch-up or the reconciler, each change once, whichever event carried it.
 */
export interface LedgerObserver {
  /** This many refunds moved into `failed` or `canceled`: their amount is refundable again. */
  refundsFailed(count: number): void;
  /** A dispute was recorded on an order that had none. */
  disputeOpened(): void;
}

/** The dispute of an order's payment, as the ledger keeps it. */
export interface DisputeState {
  disputeId: string;
  /** Stripe's dispute status: `needs_response`, `under_review`, `won`, `lost`, or a `warning_…` one (an inquiry). */
  status: string;
  amount: number;
  reason: string;
  factVersion: string;
}

/** Refund events: each names one Refund, as it was when the event happened. */
const REFUND_EVENTS = new Set(['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated']);
/** Dispute events: each names one Dispute. */
const DISPUTE_EVENTS = new Set(['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed']);
const REFUND_STATUSES = new Set<StripeRefundStatus>(['pending', 'requires_action', 'succeeded', 'failed', 'canceled']);
/** Every event type the ledger applies: the webhook endpoint and the Events API catch-up ask Stripe for exactly these. */
export const APPLIED_EVENT_TYPES = [
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  ...REFUND_EVENTS,
  ...DISPUTE_EVENTS,
];

/** A fact about one refund of an order: the Refund as Stripe has it. */
export interface RefundUpdate {
  orderId?: string;
  namespace: string;
  /** The PaymentIntent refunded. */
  paymentId: string;
  /** Our refundId for a refund made through this service; `stripe#<re_…>` for one made elsewhere (the Dashboard). */
  refundKey: string;
  amount: number;
  /** When Stripe created the refund (Unix seconds). */
  created: number;
  fact: RefundFact;
  eventId: string;
}

/** A fact about the dispute of an order's payment. */
export interface DisputeUpdate {
  orderId?: string;
  namespace: string;
  paymentId: string;
  dispute: DisputeState;
  eventId: string;
}

/** What the ledger learns from an event: a payment's state, one refund's, or the payment's dispute. */
export type LedgerUpdate = ({ kind: 'payment' } & PaymentStatusUpdate) | ({ kind: 'refund' } & RefundUpdate) | ({ kind: 'dispute' } & DisputeUpdate);

/** A refund made outside this service (the Dashboard, another system) is keyed by Stripe's id: `#` is in no refundId. */
const externalRefundKey = (stripeRefundId: string) => `stripe#${stripeRefundId}`;

/** Within one second, a later stage of a dispute wins over an earlier one. */
const DISPUTE_STAGE: Record<string, number> = {
  warning_needs_response: 1,
  needs_response: 1,
  warning_under_review: 2,
  under_review: 2,
  warning_closed: 3,
  won: 3,
  lost: 3,
};
export const disputeFactVersion = (created: number, status: string, eventId = '') =>
  [String(created).padStart(12, '0'), String(DISPUTE_STAGE[status] ?? 0).padStart(2, '0'), eventId].join('.');

/** The ledger update an event states, or undefined for event types this project does not track. */
export function ledgerUpdateFrom(event: PaymentEvent): LedgerUpdate | undefined {
  const object = event.data.object;
  // Made by this service in some namespace (this deployment's now, an earlier one, or another deployment's).
  const namespace = madeInNamespace(object) ?? '';
  const orderId = madeInNamespace(object) === undefined ? undefined : ownOrderId(namespace, object);
  const base = { orderId, namespace, eventId: event.id };

  if (REFUND_EVENTS.has(event.type)) {
    const paymentId = text(object.payment_intent);
    const status = text(object.status) as StripeRefundStatus | undefined;
    // A refund of a Charge made without a PaymentIntent (the legacy Charges API) is none of this service's.
    if (paymentId === undefined || status === undefined || !REFUND_STATUSES.has(status)) return undefined;
    const stripeRefundId = String(object.id);
    const refundId = orderId === undefined ? undefined : text(metadataOf(object)[PAYMENT_METADATA.refundId]);
    return {
      kind: 'refund',
      ...base,
      paymentId,
      refundKey: refundId ?? externalRefundKey(stripeRefundId),
      amount: count(object.amount),
      created: count(object.created),
      fact: { stripeRefundId, status, version: refundFactVersion(event.created, status, event.id) },
    };
  }
  if (DISPUTE_EVENTS.has(event.type)) {
    const paymentId = text(object.payment_intent);
    const status = text(object.status);
    if (paymentId === undefined || status === undefined) return undefined;
    const dispute: DisputeState = {
      disputeId: String(object.id),
      status,
      amount: count(object.amount),
      reason: text(object.reason) ?? 'general',
      factVersion: disputeFactVersion(event.created, status, event.id),
    };
    return { kind: 'dispute', ...base, paymentId, dispute };
  }

  const intentStatus = (status: WebhookStatus, extra: Partial<PaymentStatusUpdate> = {}): LedgerUpdate => ({
    kind: 'payment',
    ...base,
    amount: count(object.amount),
    currency: String(object.currency ?? ''),
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
    default:
      // `charge.refunded` too: each refund's own events say which refund, and whether it succeeded.
      return undefined;
  }
}

/**
 * What writing a fact did. `conflict`: the ledger holds another PaymentIntent, amount or currency
 * for this order. `unknown_order`: the ledger has no record of the order, although it writes
 * `pending` before every Stripe call, so the event cannot be about a payment of ours.
 * `other_namespace`: the order's record was made in another namespace than the fact. None of
 * them writes anything.
 */
export type FactOutcome = 'applied' | 'stale' | 'conflict' | 'unknown_order' | 'other_namespace';
/** `ignored`: an event type this project does not track, or a payment no record of this ledger was made with. */
export type EventOutcome = Exclude<FactOutcome, 'other_namespace'> | 'ignored';

type WithOrder<T> = T & { orderId: string };

export interface PaymentEventDependencies {
  /** This deployment's namespace now: a fact of it that the ledger cannot place needs a person. */
  namespace: string;
  /** Writes the fact unless the ledger holds a newer one (`stale`), another payment (`conflict`) or no such order. */
  applyStatusUpdate(update: WithOrder<PaymentStatusUpdate>): Promise<FactOutcome>;
  /** Writes the refund's state among the order's refunds, unless it holds a newer one. */
  applyRefundUpdate(update: WithOrder<RefundUpdate>): Promise<FactOutcome>;
  /** Writes the dispute's state on the order, unless it holds a newer one. */
  applyDisputeUpdate(update: WithOrder<DisputeUpdate>): Promise<FactOutcome>;
  /** The order (and the namespace it was made in) a PaymentIntent of this service was created for, or undefined if it is not one. */
  orderIdForPayment(paymentId: string): Promise<{ orderId: string; namespace: string } | undefined>;
}

/**
 * Applies one verified Stripe event to the ledger; safe to repeat and to reorder. A fact applies
 * to the record made in the namespace the fact names, whatever the deployment's namespace is now,
 * so orders made before a namespace change still follow their refunds, disputes and payments;
 * facts about records of no namespace of this ledger are `ignored`.
 */
export function createApplyPaymentEvent({ namespace, applyStatusUpdate, applyRefundUpdate, applyDisputeUpdate, orderIdForPayment }: PaymentEventDependencies) {
  return async function applyPaymentEvent(event: PaymentEvent): Promise<EventOutcome> {
    const update = ledgerUpdateFrom(event);
    if (update === undefined) return 'ignored';
    // A Refund or Dispute without our marker (made in the Dashboard, or by another tool, whatever
    // metadata it carries) belongs to whoever made its PaymentIntent: it is traced through it.
    const traceable = update.orderId === undefined && update.kind !== 'payment';
    const traced = traceable ? await orderIdForPayment(update.paymentId) : undefined;
    const orderId = traced?.orderId ?? update.orderId;
    if (orderId === undefined) return 'ignored';
    const placed = { ...update, orderId, namespace: traced?.namespace ?? update.namespace };
    const outcome =
      placed.kind === 'refund'
        ? await applyRefundUpdate(placed)
        : placed.kind === 'dispute'
          ? await applyDisputeUpdate(placed)
          : await applyStatusUpdate(placed);
    const current = placed.namespace === namespace || placed.namespace === BEFORE_NAMESPACES;
    if (outcome === 'other_namespace') return current ? 'conflict' : 'ignored';
    // Another deployment's payment (sharing the Stripe account) that this ledger never recorded.
    if (outcome === 'unknown_order' && !current) return 'ignored';
    return outcome;
  };
}
