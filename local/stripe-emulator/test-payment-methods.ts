/**
 * Stripe's documented test payment methods (https://docs.stripe.com/testing) that the emulator
 * understands, with the outcome Stripe gives each when a PaymentIntent is confirmed, and what
 * Stripe does after a success: open a dispute, or treat refunds of the charge in its own way.
 */
export type PaymentMethodOutcome =
  | { kind: 'confirmed'; status: 'succeeded' | 'requires_action'; refunds?: RefundOutcome; dispute?: DisputeReason }
  | { kind: 'declined'; declineCode: string; message: string };

/** The status Stripe answers a refund of the charge with, and the one it moves to later (none: final at once). */
export interface RefundOutcome {
  status: 'succeeded' | 'pending';
  later?: 'succeeded' | 'failed';
}

export type DisputeReason = 'fraudulent' | 'product_not_received';

const succeeds = { kind: 'confirmed', status: 'succeeded' } as const;

const outcomes: Record<string, PaymentMethodOutcome> = {
  pm_card_visa: succeeds,
  pm_card_mastercard: succeeds,
  pm_card_amex: succeeds,
  pm_card_authenticationRequired: { kind: 'confirmed', status: 'requires_action' },
  pm_card_chargeDeclined: { kind: 'declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: {
    kind: 'declined',
    declineCode: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  // Refunds (4000000000007726): pending at first, succeeded later.
  pm_card_pendingRefund: { ...succeeds, refunds: { status: 'pending', later: 'succeeded' } },
  // Refunds (4000000000005126): answered succeeded, failed later with failure_reason expired_or_canceled_card.
  pm_card_refundFail: { ...succeeds, refunds: { status: 'succeeded', later: 'failed' } },
  // Disputes (4000000000000259 and 4000000000002685): the charge succeeds, then is disputed.
  pm_card_createDispute: { ...succeeds, dispute: 'fraudulent' },
  pm_card_createDisputeProductNotReceived: { ...succeeds, dispute: 'product_not_received' },
};

export const isKnownPaymentMethod = (paymentMethod: string): boolean => Object.hasOwn(outcomes, paymentMethod);

export const applyPaymentMethod = (paymentMethod: string): PaymentMethodOutcome => outcomes[paymentMethod];

/** A card refund succeeds at once unless the charge's test payment method says otherwise. */
export function refundOutcome(paymentMethod: string): RefundOutcome {
  const outcome = outcomes[paymentMethod];
  return (outcome?.kind === 'confirmed' && outcome.refunds) || { status: 'succeeded' };
}
