import { MAX_AMOUNT_MINOR_UNITS, ORDER_ID_PATTERN } from './payment-request';

/**
 * The request contract of POST /payments/{orderId}/refunds, defined once: API Gateway validates
 * bodies with this schema as its request model, and the Lambda validates with the very same object.
 * The orderId comes from the path.
 */
export const REFUND_ID_PATTERN = ORDER_ID_PATTERN;
/** Stripe's refund reasons. */
export const REFUND_REASONS = ['requested_by_customer', 'duplicate', 'fraudulent'] as const;
export type RefundReason = (typeof REFUND_REASONS)[number];

export const refundRequestSchema = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  title: 'RefundRequest',
  type: 'object',
  additionalProperties: false,
  required: ['refundId'],
  properties: {
    // The caller's id for this refund: with the orderId, the idempotency key.
    refundId: { type: 'string', minLength: 1, maxLength: 255, pattern: REFUND_ID_PATTERN },
    // Minor units; absent means everything still refundable.
    amount: { type: 'integer', minimum: 1, maximum: MAX_AMOUNT_MINOR_UNITS },
    reason: { type: 'string', enum: [...REFUND_REASONS] },
  },
} as const;

/** A refund request that passed validation, with the orderId of its path. */
export interface RefundRequest {
  orderId: string;
  refundId: string;
  amount?: number;
  reason?: RefundReason;
}

/**
 * The fields whose change under the same refundId means "another refund", not a retry: Powertools
 * hashes exactly these (payload validation), and the ledger compares them too.
 */
export const REFUND_IDENTITY_FIELDS = ['amount', 'reason'] as const;
