import {
  type Charge,
  type EmitEvent,
  invalidRequest,
  listPage,
  namedByListFilters,
  newId,
  noSuch,
  nowInSeconds,
  type PaymentIntent,
  type StoredResponse,
} from './stripe-objects';
import { refundOutcome } from './test-payment-methods';

export interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  charge: string;
  currency: string;
  payment_intent: string;
  reason: RefundReason | null;
  status: RefundStatus;
  metadata: Record<string, string>;
  created: number;
  /** Only on a failed refund, as Stripe sends it. */
  failure_reason?: string;
}

export type RefundReason = 'duplicate' | 'fraudulent' | 'requested_by_customer';
export type RefundStatus = 'pending' | RefundSettlement;
export type RefundSettlement = 'succeeded' | 'failed';

/** What a test does in the card network's place. */
export interface RefundControls {
  /**
   * Settles a refund whose outcome is not final yet (one of `pm_card_pendingRefund` or
   * `pm_card_refundFail`), by default as its test payment method does: pending → succeeded, or
   * succeeded → failed. A refund that fails gives its amount back to the charge.
   */
  settle(refundId: string, outcome?: RefundSettlement): Refund;
  /** Settles every refund whose outcome is not final yet, oldest first, and answers them. */
  settlePending(outcome?: RefundSettlement): Refund[];
}

/** The reason Stripe documents for `pm_card_refundFail`; a failure forced on another method's refund borrows it. */
const FAILURE_REASON = 'expired_or_canceled_card';

interface RefundDependencies {
  paymentIntents: ReadonlyMap<string, PaymentIntent>;
  charges: ReadonlyMap<string, Charge>;
  emit: EmitEvent;
}

/** Refunds of succeeded charges, with Stripe's refusals, asynchronous outcomes and events. */
export function createRefunds({ paymentIntents, charges, emit }: RefundDependencies) {
  const refunds = new Map<string, Refund>();
  /** The status each refund still in flight moves to when settled, by its charge's payment method. */
  const inFlight = new Map<string, RefundSettlement>();

  /** The charge a refund's `payment_intent` or `charge` names, or Stripe's refusal. */
  function chargeToRefund(params: Record<string, unknown>): Charge | StoredResponse {
    const { payment_intent: intentId, charge: chargeId } = params;
    if (typeof intentId === 'string') {
      const intent = paymentIntents.get(intentId);
      if (intent === undefined) return noSuch('payment_intent', intentId, 'payment_intent', 400);
      const charge = intent.latest_charge === null ? undefined : charges.get(intent.latest_charge);
      if (charge === undefined) return invalidRequest(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, 'payment_intent');
      const anotherCharge = typeof chargeId === 'string' && chargeId !== charge.id;
      // Guessed wording for a charge that is not the PaymentIntent's.
      return anotherCharge ? invalidRequest(`Charge ${chargeId} does not belong to PaymentIntent ${intent.id}.`, 'charge') : charge;
    }
    if (typeof chargeId === 'string') return charges.get(chargeId) ?? noSuch('charge', chargeId, 'charge', 400);
    // Guessed: Stripe asks for the charge when neither is given.
    return invalidRequest('Missing required param: charge.', 'charge', 'parameter_missing');
  }

  /**
   * `POST /v1/refunds`: all (or `amount` of) what is left unrefunded, pending refunds counting as
   * taken. Answered with the status the charge's test payment method gives; `refund.created` and
   * `charge.refunded` are sent at once, pending refunds included, as the charge's `amount_refunded`
   * already counts them.
   */
  function create(params: Record<string, unknown>): StoredResponse {
    const charge = chargeToRefund(params);
    if ('body' in charge) return charge;
    if (charge.amount_refunded >= charge.amount) return invalidRequest(`Charge ${charge.id} has already been refunded.`, undefined, 'charge_already_refunded');
    if (charge.disputed) return invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, undefined, 'charge_disputed');
    const left = charge.amount - charge.amount_refunded;
    const amount = params.amount === undefined ? left : Number(params.amount);
    if (!Number.isInteger(amount) || amount < 1) return invalidRequest('Invalid positive integer', 'amount', 'parameter_invalid_integer');
    if (amount > left) {
      // Stripe sends no `code` for this refusal, only the param and this message.
      const money = moneyFormat(charge.currency);
      return invalidRequest(`Refund amount (${money(amount)}) is greater than unrefunded amount on charge (${money(left)})`, 'amount');
    }

    const outcome = refundOutcome(charge.payment_method);
    const refund: Refund = {
      id: newId('re'),
      object: 'refund',
      amount,
      charge: charge.id,
      currency: charge.currency,
      payment_intent: charge.payment_intent,
      reason: (params.reason as RefundReason | undefined) ?? null,
      status: outcome.status,
      metadata: (params.metadata as Record<string, string> | undefined) ?? {},
      created: nowInSeconds(),
    };
    refunds.set(refund.id, refund);
    if (outcome.later !== undefined) inFlight.set(refund.id, outcome.later);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    emit('refund.created', refund);
    emit('charge.refunded', charge);
    return { status: 200, body: refund };
  }

  function settle(refundId: string, outcome?: RefundSettlement): Refund {
    const refund = refunds.get(refundId);
    if (refund === undefined) throw new Error(`No such refund: '${refundId}'`);
    const documented = inFlight.get(refundId);
    if (documented === undefined) throw new Error(`Refund ${refundId} is final (${refund.status}); only a refund still in flight settles.`);
    inFlight.delete(refundId);
    const status = outcome ?? documented;
    // A pm_card_refundFail refund settled as succeeded keeps the status it was answered with.
    if (status === refund.status) return refund;

    const previous = { status: refund.status };
    refund.status = status;
    if (status === 'failed') {
      refund.failure_reason = FAILURE_REASON;
      const charge = charges.get(refund.charge) as Charge;
      charge.amount_refunded -= refund.amount;
      charge.refunded = false;
    }
    emit('refund.updated', refund, previous);
    emit('charge.refund.updated', refund, previous);
    if (status === 'failed') emit('refund.failed', refund);
    return refund;
  }

  /** `GET /v1/refunds`, newest first, optionally of one `payment_intent` or `charge`. */
  function list(params: Record<string, unknown>): StoredResponse {
    return listPage([...refunds.values()].filter(namedByListFilters(params)), params, { url: '/v1/refunds', noun: 'refund' });
  }

  const controls: RefundControls = {
    settle,
    settlePending: (outcome) => [...inFlight.keys()].map((refundId) => settle(refundId, outcome)),
  };
  return { create, list, controls, find: (id: string) => refunds.get(id) };
}

/** Minor units as Stripe writes money in messages: `€10.00`, `$0.90`, `¥500`. */
function moneyFormat(currency: string): (minorUnits: number) => string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  const decimals = format.resolvedOptions().maximumFractionDigits ?? 2;
  return (minorUnits) => format.format(minorUnits / 10 ** decimals);
}
