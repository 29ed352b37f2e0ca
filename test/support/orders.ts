import type { ChargeRequest } from '../../lambdas/contract/payment-request';
import { type OrderChannel, pendingRecordOf } from '../../lambdas/core/charge-order';
import { type PaymentIntentCreate, paymentIntentCreateOf, personalDataOf } from '../../lambdas/core/stripe-requests';

/**
 * An order with every optional field set. `Required` makes a field added to ChargeRequest a type
 * error here until it has a value, so the fault matrix and the resume property test send it too.
 */
export const fullOrder = (orderId: string): Required<ChargeRequest> => ({
  orderId,
  amount: 4_250,
  currency: 'eur',
  paymentMethod: 'pm_card_visa',
  customerId: 'cus_FullOrder42',
  // Not ASCII, so encoding counts; within the BMP, which is all the SQS emulator takes (SQS itself takes more).
  description: 'Order with every field: 2 × café crème, ½ croissant',
  receiptEmail: 'jane.doe@example.com',
});

/** The PaymentIntent create the service sends for a new order: for tests that make a payment at Stripe directly. */
export const paymentIntentCreateFor = (order: ChargeRequest, namespace: string, channel: OrderChannel = 'api'): PaymentIntentCreate =>
  paymentIntentCreateOf(pendingRecordOf(order, { channel, namespace }, new Date().toISOString()), personalDataOf(order));
