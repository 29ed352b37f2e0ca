import Stripe from 'stripe';
import { PAYMENT_METADATA, paymentMetadata, stripeIdempotencyKey } from '../contract/payment-metadata';
import type { ChargeRequest } from '../contract/payment-request';
import { STRIPE_LOOKUP_TIMEOUT_MS, STRIPE_MAX_NETWORK_RETRIES, STRIPE_TIMEOUT_MS } from '../contract/settings';
import type { PaymentAttempt, PaymentProvider } from '../core/charge-order';
import { OrderConflictError, PaymentInProgressError, PaymentProviderError, PaymentRejectedError } from '../core/errors';
import { isPaymentOf } from '../core/payment-ownership';

/** PaymentIntent states in which the money is (or will be) collected without the customer's help. */
const PAID_STATUSES = new Set(['succeeded', 'processing', 'requires_capture']);

/** Stripe's parameter names, as the fields of our request that carry them. */
const REQUEST_FIELDS: Record<string, string> = {
  amount: 'amount',
  currency: 'currency',
  payment_method: 'paymentMethod',
  customer: 'customerId',
  description: 'description',
};

/**
 * A Stripe client for the real API, or for a Stripe-compatible server when `apiBase` is given
 * (the local emulator, stripe-mock). Timeouts and retries come from the shared settings, which
 * also size the Lambda timeout.
 */
export function createStripeClient(apiKey: string, apiBase?: string): Stripe {
  const server = apiBase === undefined ? {} : serverOptions(new URL(apiBase));
  return new Stripe(apiKey, {
    ...server,
    timeout: STRIPE_TIMEOUT_MS,
    maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
    telemetry: false,
    appInfo: { name: 'exactly-once-payments' },
  });
}

function serverOptions(url: URL) {
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol } as const;
}

/**
 * Stripe as the charge use case's payment provider, for one deployment namespace (the idempotency
 * key and the metadata carry it). `getClient` may be async (the key is a secret).
 */
export function createStripePayments(getClient: () => Promise<Stripe>, namespace: string): PaymentProvider {
  return {
    async createPayment(order: ChargeRequest): Promise<PaymentAttempt> {
      const stripe = await clientOrUnavailable(getClient);
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: order.amount,
            currency: order.currency,
            customer: order.customerId,
            description: order.description,
            payment_method: order.paymentMethod,
            // Without a payment method the customer confirms later (Stripe.js); with one, charge now.
            confirm: order.paymentMethod !== undefined,
            // A server-side charge cannot follow a redirect, so only offer methods that need none.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            metadata: paymentMetadata(namespace, order.orderId),
          },
          // A retry after a crash gets the first PaymentIntent back; another deployment's key differs.
          { idempotencyKey: stripeIdempotencyKey(namespace, order.orderId) },
        );
        return attemptOf(intent);
      } catch (error) {
        return declineOrThrow(order, error);
      }
    },

    async findPayment(order: ChargeRequest): Promise<PaymentAttempt | undefined> {
      const stripe = await clientOrUnavailable(getClient);
      try {
        // orderId is limited to [A-Za-z0-9._:-], so it cannot break out of the quoted query value.
        // Stripe's own retry of a reset connection is counted in STRIPE_LOOKUP_WORST_CASE_MS.
        const { data } = await stripe.paymentIntents.search(
          { query: `metadata['${PAYMENT_METADATA.orderId}']:'${order.orderId}'`, limit: 100 },
          { maxNetworkRetries: 0, timeout: STRIPE_LOOKUP_TIMEOUT_MS },
        );
        // Another system, or another deployment, may have a PaymentIntent naming the same orderId.
        const ours = data.filter((candidate) => isPaymentOf(namespace, candidate, order));
        const intent = ours.find((candidate) => PAID_STATUSES.has(candidate.status)) ?? ours[0];
        return intent && attemptOf(intent);
      } catch (error) {
        throw new PaymentProviderError('payment provider unavailable', true, { cause: error });
      }
    },
  };
}

/** The client, or a retryable failure when it cannot be had (e.g. the key could not be read from Secrets Manager). */
async function clientOrUnavailable(getClient: () => Promise<Stripe>): Promise<Stripe> {
  try {
    return await getClient();
  } catch (error) {
    throw new PaymentProviderError('payment provider unavailable', true, { cause: error });
  }
}

function attemptOf(intent: Stripe.PaymentIntent): PaymentAttempt {
  const known = { paymentId: intent.id, paymentStatus: intent.status, paymentCreated: intent.created };
  if (PAID_STATUSES.has(intent.status)) return { status: 'charged', ...known };
  if (intent.status === 'canceled') return { status: 'canceled', ...known };
  if (intent.last_payment_error?.type === 'card_error') {
    return { status: 'declined', ...known, declineCode: intent.last_payment_error.decline_code ?? intent.last_payment_error.code ?? 'card_declined' };
  }
  return { status: 'requires_action', ...known, clientSecret: intent.client_secret ?? undefined };
}

function declineOrThrow(order: ChargeRequest, error: unknown): PaymentAttempt {
  // stripe-node turns everything that happens once a request is on its way (connection failures,
  // timeouts, every answer) into a StripeError. Anything else was thrown while it built the request
  // (e.g. encoding a string that is not well-formed Unicode): nothing left the process, and the
  // same request will fail the same way for ever.
  if (!(error instanceof Stripe.errors.StripeError)) {
    throw new PaymentRejectedError(unsendableField(order), 'request_not_sendable', { cause: error });
  }
  if (error instanceof Stripe.errors.StripeCardError) {
    // A decline is a result, not a failure: it is stored and replayed without asking Stripe again.
    return {
      status: 'declined',
      paymentId: error.payment_intent?.id,
      paymentStatus: error.payment_intent?.status,
      paymentCreated: error.payment_intent?.created,
      declineCode: error.decline_code ?? error.code ?? 'card_declined',
    };
  }
  // 409: another request with this key is still running at Stripe (stripe-node already retried).
  if (error.statusCode === 409) throw new PaymentInProgressError({ cause: error });
  if (error instanceof Stripe.errors.StripeIdempotencyError) throw new OrderConflictError(order.orderId, ['payment details']);
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    throw new PaymentRejectedError(REQUEST_FIELDS[error.param ?? ''] ?? 'body', error.code ?? 'invalid_request', { cause: error });
  }
  // Authentication and permission errors are our configuration (e.g. the secret still holds its placeholder).
  const retryable = !(error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError);
  throw new PaymentProviderError(retryable ? 'payment provider unavailable' : 'payment provider refused our credentials', retryable, {
    cause: error,
  });
}

/** The request field the SDK could not encode, as far as we can tell; `body` otherwise. */
function unsendableField(order: ChargeRequest): string {
  const text = Object.entries(order).find(([, value]) => typeof value === 'string' && !value.isWellFormed());
  return text?.[0] ?? 'body';
}
