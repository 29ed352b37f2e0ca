import type { PaymentAttempt } from './charge-order';

/**
 * Failures the charge use case distinguishes. Each says whether retrying the same request can help,
 * which is all the HTTP handler and the queue worker need to decide what to do.
 */
export class PaymentProviderError extends Error {
  override readonly name: string = 'PaymentProviderError';
  constructor(
    message: string,
    /** True when Stripe was unreachable or failing; false when it refused our credentials. */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Stripe refused the request for its rate limit (a 429, not a lock timeout): it did nothing, and the
 * same request later is safe. Retryable like any provider failure, so the core keeps the pending
 * record for a resume with the same key; told apart so that a client is answered when to come back,
 * and the queue worker waits without spending the message's receives.
 */
export class PaymentProviderRateLimitedError extends PaymentProviderError {
  override readonly name = 'PaymentProviderRateLimitedError';
  constructor(
    /** Stripe's `Stripe-Rate-Limited-Reason` header (`global-rate`, `endpoint-rate`, …), when it sent one. */
    readonly reason: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`the payment provider rate limited the request${reason === undefined ? '' : ` (${reason})`}`, true, options);
  }
}

/** Stripe, or another request under this orderId, is still working on the order: answer "in progress". */
export class PaymentInProgressError extends Error {
  override readonly name = 'PaymentInProgressError';
  readonly retryable = true;
  constructor(options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? 'the payment provider is still processing this order', options);
  }
}

/**
 * Stripe refused the payment as requested (unknown payment method or customer, amount below the
 * minimum, ...). Usually Stripe charged nothing and kept no result, so the order may be sent again,
 * fixed; but when it created the PaymentIntent and then refused to confirm it, `paymentMade` says
 * what it holds, and the order keeps that PaymentIntent.
 */
export class PaymentRejectedError extends Error {
  override readonly name = 'PaymentRejectedError';
  readonly retryable = false;
  constructor(
    /** The request field Stripe named, when it maps to one. */
    readonly field: string,
    /** Stripe's error code, e.g. `resource_missing` or `amount_too_small`. */
    readonly code: string,
    options?: { cause?: unknown; paymentMade?: PaymentAttempt },
  ) {
    super(`the payment provider refused ${field} (${code})`, options);
    this.paymentMade = options?.paymentMade;
  }

  /** The PaymentIntent Stripe created before it refused, if it did. */
  readonly paymentMade?: PaymentAttempt;
}

export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The orderId was already used for a payment with other amount, currency, method or customer. */
export class OrderConflictError extends Error {
  override readonly name = 'OrderConflictError';
  readonly retryable = false;
  constructor(
    readonly orderId: string,
    readonly conflictingFields: string[],
  ) {
    super(`order ${orderId} was already submitted with a different ${conflictingFields.join(', ')}`);
  }
}

/** A webhook whose Stripe-Signature does not prove it came from Stripe with this very body. */
export class InvalidSignatureError extends Error {
  override readonly name = 'InvalidSignatureError';
  constructor(reason: string) {
    super(reason);
  }
}

/** No ledger record for the order: it was never submitted (or not to this deployment). */
export class OrderNotFoundError extends Error {
  override readonly name = 'OrderNotFoundError';
  readonly retryable = false;
  constructor(readonly orderId: string) {
    super(`no payment for order ${orderId}`);
  }
}

/** The order holds no money to refund: it was never charged (or Stripe says the charge is disputed). */
export class OrderNotRefundableError extends Error {
  override readonly name = 'OrderNotRefundableError';
  readonly retryable = false;
  constructor(
    readonly orderId: string,
    /** The ledger status, or Stripe's refusal code. */
    readonly reason: string,
  ) {
    super(`order ${orderId} cannot be refunded (${reason})`);
  }
}

/** The refund asks for more than is still refundable: charged minus succeeded and in-flight refunds. */
export class RefundExceedsPaymentError extends Error {
  override readonly name = 'RefundExceedsPaymentError';
  readonly retryable = false;
  constructor(
    readonly orderId: string,
    /** What is still refundable as the ledger sees it, in minor units (undefined when Stripe refused). */
    readonly refundable?: number,
  ) {
    super(
      refundable === undefined
        ? `the payment provider refused to refund more of order ${orderId}`
        : `at most ${refundable} of order ${orderId} is still refundable`,
    );
  }
}

/** The refundId was already used for this order with another amount or reason. */
export class RefundConflictError extends Error {
  override readonly name = 'RefundConflictError';
  readonly retryable = false;
  constructor(
    readonly orderId: string,
    readonly refundId: string,
    readonly conflictingFields: string[],
  ) {
    super(`refund ${refundId} of order ${orderId} was already requested with a different ${conflictingFields.join(', ')}`);
  }
}
