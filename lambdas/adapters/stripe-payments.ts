import Stripe from 'stripe';
import type { ChargeRequest } from '../contract/payment-request';
import { STRIPE_MAX_NETWORK_RETRIES, STRIPE_TIMEOUT_MS } from '../contract/settings';
import type { PaymentAttempt, PaymentProvider } from '../core/charge-order';
import { OrderConflictError, PaymentProviderError } from '../core/errors';

/** PaymentIntent states in which the money is (or will be) collected without the customer's help. */
const PAID_STATUSES = new Set(['succeeded', 'processing', 'requires_capture']);

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

/** Stripe as the charge use case's payment provider. `getClient` may be async (the key is a secret). */
export function createStripePayments(getClient: () => Promise<Stripe>): PaymentProvider {
  return {
    async createPayment(order: ChargeRequest): Promise<PaymentAttempt> {
      const stripe = await getClient();
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
            metadata: { orderId: order.orderId },
          },
          // The orderId is the key: a retry after a crash gets the first PaymentIntent back.
          { idempotencyKey: order.orderId },
        );
        return {
          status: PAID_STATUSES.has(intent.status) ? 'charged' : 'requires_action',
          paymentId: intent.id,
          paymentStatus: intent.status,
        };
      } catch (error) {
        return declineOrThrow(order, error);
      }
    },
  };
}

function declineOrThrow(order: ChargeRequest, error: unknown): PaymentAttempt {
  if (!(error instanceof Stripe.errors.StripeError)) throw error;
  if (error instanceof Stripe.errors.StripeCardError) {
    // A decline is a result, not a failure: it is stored and replayed without asking Stripe again.
    return {
      status: 'declined',
      paymentId: error.payment_intent?.id,
      paymentStatus: error.payment_intent?.status,
      declineCode: error.decline_code ?? error.code ?? 'card_declined',
    };
  }
  // 409: another request with this key is still running at Stripe (stripe-node already retried).
  if (error.statusCode === 409) throw new PaymentProviderError('payment provider is busy with this order', true, { cause: error });
  if (error instanceof Stripe.errors.StripeIdempotencyError) throw new OrderConflictError(order.orderId, ['payment details']);
  const retryable =
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeAPIError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    (error.statusCode ?? 500) >= 500;
  throw new PaymentProviderError(retryable ? 'payment provider unavailable' : 'payment provider refused the request', retryable, {
    cause: error,
  });
}
