/**
 * Failures the charge use case distinguishes. Each says whether retrying the same request can help,
 * which is all the HTTP handler and (later) the queue worker need to decide what to do.
 */
export class PaymentProviderError extends Error {
  override readonly name = 'PaymentProviderError';
  constructor(
    message: string,
    /** True when Stripe was unreachable or busy; false when it refused the request as made. */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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
