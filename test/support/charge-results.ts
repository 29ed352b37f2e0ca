import type { ChargeResult } from '../../lambdas/core/charge-order';

/** A first charge that succeeded, as the charge use case returns it; tests change what they are about. */
export const chargeResult = (extra: Partial<ChargeResult> = {}): ChargeResult => ({
  orderId: 'o-1',
  status: 'charged',
  amount: 100,
  currency: 'eur',
  paymentId: 'pi_1',
  paymentStatus: 'succeeded',
  declineCode: null,
  clientSecret: null,
  replayed: false,
  ...extra,
});
