/** The HTTP headers of the contract, named once: the handlers and clients use them, the OpenAPI document describes them. */
export const HTTP_HEADERS = {
  /** Sent as `true` when the answer is an earlier outcome replayed. */
  idempotentReplayed: 'Idempotent-Replayed',
  /** Seconds to wait before sending the same request again. */
  retryAfter: 'Retry-After',
  /** Stripe's signature of a webhook's raw body. */
  stripeSignature: 'Stripe-Signature',
  /** The API key API Gateway checks against the usage plan (header names are case-insensitive). */
  apiKey: 'x-api-key',
} as const;
