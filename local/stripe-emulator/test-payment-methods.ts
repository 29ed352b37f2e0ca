/**
 * Stripe's documented test payment methods (https://docs.stripe.com/testing) that the emulator
 * understands, with the outcome Stripe gives each when a PaymentIntent is confirmed.
 */
export type PaymentMethodOutcome = { kind: 'confirmed'; status: 'succeeded' | 'requires_action' } | { kind: 'declined'; declineCode: string; message: string };

const outcomes: Record<string, PaymentMethodOutcome> = {
  pm_card_visa: { kind: 'confirmed', status: 'succeeded' },
  pm_card_mastercard: { kind: 'confirmed', status: 'succeeded' },
  pm_card_amex: { kind: 'confirmed', status: 'succeeded' },
  pm_card_authenticationRequired: { kind: 'confirmed', status: 'requires_action' },
  pm_card_chargeDeclined: { kind: 'declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: {
    kind: 'declined',
    declineCode: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
};

export const isKnownPaymentMethod = (paymentMethod: string): boolean => Object.hasOwn(outcomes, paymentMethod);

export const applyPaymentMethod = (paymentMethod: string): PaymentMethodOutcome => outcomes[paymentMethod];
