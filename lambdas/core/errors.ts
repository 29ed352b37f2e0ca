/**
 * Failures the charge use case distinguishes. Each says whether retrying the same request can help,
 * which is all the HTTP handler and the queue worker need to decide what to do.
 */
export class PaymentProviderError extends Error {
  override readonly name = 'PaymentProviderError';
  constructor(
    message: string,
    /** True when Stripe was unreachable or failing; false when it refused our credentials. */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Stripe is still running another request with this order's key: answer "in progress". */
export class PaymentInProgressError extends Error {
  override readonly name = 'PaymentInProgressError';
  readonly retryable = true;
  constructor(options?: { cause?: unknown }) {
    super('the payment provider is still processing this order', options);
  }
}

/**
 * Stripe refused the payment as requested (unknown payment method or customer, amount below the
 * minimum, ...). Stripe charged nothing and kept no result, so the order may be sent again, fixed.
 */
export class PaymentRejectedError extends Error {
  override readonly name = 'PaymentRejectedError';
  readonly retryable = false;
  constructor(
    /** The request field Stripe named, when it maps to one. */
    readonly field: string,
    /** Stripe's error code, e.g. `resource_missing` or `amount_too_small`. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`the payment provider refused ${field} (${code})`, options);
  }
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
