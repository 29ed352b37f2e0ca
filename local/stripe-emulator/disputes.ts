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
import type { DisputeReason } from './test-payment-methods';

export interface Dispute {
  id: string;
  object: 'dispute';
  amount: number;
  currency: string;
  charge: string;
  payment_intent: string;
  reason: DisputeReason;
  status: 'needs_response' | DisputeOutcome;
  /** A chargeback's money is already withdrawn, so Stripe refuses to refund the charge as well. */
  is_charge_refundable: false;
  created: number;
  livemode: false;
  metadata: Record<string, string>;
}

export type DisputeOutcome = 'won' | 'lost';

/** What a test does in the card network's place. */
export interface DisputeControls {
  /** Closes an open dispute as the bank decided: `charge.dispute.updated`, then `charge.dispute.closed`. */
  close(disputeId: string, outcome: DisputeOutcome): Dispute;
}

interface DisputeDependencies {
  paymentIntents: ReadonlyMap<string, PaymentIntent>;
  charges: ReadonlyMap<string, Charge>;
  emit: EmitEvent;
}

/** Chargebacks on succeeded charges, opened by a test payment method or a test, and their API. */
export function createDisputes({ paymentIntents, charges, emit }: DisputeDependencies) {
  const disputes = new Map<string, Dispute>();

  /** Opens a chargeback on the charge: Stripe withdraws the disputed amount at once. */
  function open(charge: Charge, reason: DisputeReason): Dispute {
    const dispute: Dispute = {
      id: newId('dp'),
      object: 'dispute',
      amount: charge.amount,
      currency: charge.currency,
      charge: charge.id,
      payment_intent: charge.payment_intent,
      reason,
      status: 'needs_response',
      is_charge_refundable: false,
      created: nowInSeconds(),
      livemode: false,
      metadata: {},
    };
    disputes.set(dispute.id, dispute);
    charge.disputed = true;
    emit('charge.dispute.created', dispute);
    emit('charge.dispute.funds_withdrawn', dispute);
    return dispute;
  }

  /** Opens a chargeback on a PaymentIntent's charge, as a cardholder's bank would (Stripe has no API for it: the refusals' wording is the emulator's). */
  function openOnPaymentIntent(paymentIntentId: string, reason: DisputeReason): StoredResponse {
    const intent = paymentIntents.get(paymentIntentId);
    if (intent === undefined) return noSuch('payment_intent', paymentIntentId, 'payment_intent', 400);
    const charge = intent.latest_charge === null ? undefined : charges.get(intent.latest_charge);
    if (charge === undefined) return invalidRequest(`This PaymentIntent (${intent.id}) does not have a successful charge to dispute.`, 'payment_intent');
    // Stripe: "Disputes and chargebacks aren't possible on credit card charges that are fully refunded."
    if (charge.refunded) return invalidRequest(`Charge ${charge.id} is fully refunded and cannot be disputed.`, 'payment_intent');
    if (charge.disputed) return invalidRequest(`Charge ${charge.id} is already disputed.`, 'payment_intent');
    return { status: 200, body: open(charge, reason) };
  }

  function close(disputeId: string, outcome: DisputeOutcome): Dispute {
    const dispute = disputes.get(disputeId);
    if (dispute === undefined) throw new Error(`No such dispute: '${disputeId}'`);
    if (dispute.status !== 'needs_response') throw new Error(`Dispute ${disputeId} is already closed as ${dispute.status}.`);
    dispute.status = outcome;
    emit('charge.dispute.updated', dispute, { status: 'needs_response' });
    emit('charge.dispute.closed', dispute);
    if (outcome === 'won') emit('charge.dispute.funds_reinstated', dispute);
    return dispute;
  }

  /** `GET /v1/disputes`, newest first, optionally of one `payment_intent` or `charge`. */
  function list(params: Record<string, unknown>): StoredResponse {
    return listPage([...disputes.values()].filter(namedByListFilters(params)), params, { url: '/v1/disputes', noun: 'dispute' });
  }

  return { open, openOnPaymentIntent, close, list, find: (id: string) => disputes.get(id) };
}
