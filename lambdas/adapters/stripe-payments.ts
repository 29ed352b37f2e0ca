import type Stripe from 'stripe';
import { BEFORE_NAMESPACES, PAYMENT_METADATA } from '../contract/payment-metadata';
import type { ChargeRequest } from '../contract/payment-request';
import { REQUEST_FIELD_OF_STRIPE_PARAMETER } from '../contract/request-fields';
import { STRIPE_LOOKUP_TIMEOUT_MS, STRIPE_MAX_NETWORK_RETRIES, STRIPE_TIMEOUT_MS } from '../contract/settings';
import type { AuditDependencies, StripePayment } from '../core/audit';
import type { PaymentAttempt, PaymentProvider } from '../core/charge-order';
import {
  OrderConflictError,
  OrderNotRefundableError,
  PaymentInProgressError,
  PaymentProviderError,
  PaymentProviderRateLimitedError,
  PaymentRejectedError,
  RefundConflictError,
  RefundExceedsPaymentError,
} from '../core/errors';
import { stripeRequestPacer } from '../core/paced-work';
import { isPaymentOf, ownOrderId } from '../core/payment-ownership';
import type { ListingPage, PaymentLookups } from '../core/reconcile-pending';
import type { RefundLookups } from '../core/reconcile-refunds';
import type { RefundAttempt, RefundProvider, StripeRefundStatus } from '../core/refund-order';
import type { PaymentIntentCreate, RefundCreate } from '../core/stripe-requests';
import { inSubsegment } from './tracing';

/** PaymentIntent states in which the money is (or will be) collected without the customer's help. */
const PAID_STATUSES = new Set(['succeeded', 'processing', 'requires_capture']);

/**
 * The Stripe SDK, loaded on first need: evaluating it (~240 KiB) at init would slow every cold
 * start, also those of requests answered without Stripe (a replay, a GET, a rejected webhook).
 */
async function loadStripe(): Promise<typeof Stripe> {
  // This import loads the SDK's ESM build, whose types declare the same SDK as the CommonJS ones read here.
  return (await import('stripe')).default as unknown as typeof Stripe;
}

/** The client for the key `readApiKey` answers, made when first asked for (the SDK is loaded then) and again only when the key changes. */
export function stripeClientOnFirstNeed(readApiKey: () => Promise<string>, apiBase?: string): () => Promise<Stripe> {
  // The client's promise is kept at once, so that requests asking together while the SDK loads share one client.
  let client: { apiKey: string; stripe: Promise<Stripe> } | undefined;
  return async () => {
    const apiKey = await readApiKey();
    if (client?.apiKey !== apiKey) client = { apiKey, stripe: loadStripe().then((StripeSdk) => new StripeSdk(apiKey, stripeConfig(apiBase))) };
    return client.stripe;
  };
}

/**
 * A client at once, for tests and the local runtime, which hold the SDK anyway (a fault-injecting
 * `httpClient` is made from it first); the Lambdas make theirs through stripeClientOnFirstNeed.
 */
export function createStripeClient(apiKey: string, apiBase?: string, httpClient?: Stripe.HttpClient): Stripe {
  const StripeSdk = require('stripe') as typeof Stripe;
  return new StripeSdk(apiKey, stripeConfig(apiBase, httpClient));
}

/**
 * How a client talks to the real API, or to a Stripe-compatible server when `apiBase` is given
 * (the local emulator, stripe-mock). Timeouts and retries come from the shared settings, which
 * also size the Lambda timeout.
 */
function stripeConfig(apiBase?: string, httpClient?: Stripe.HttpClient): Stripe.StripeConfig {
  const server = apiBase === undefined ? {} : serverOptions(new URL(apiBase));
  return {
    ...server,
    // Only tests pass one: an HTTP client that injects faults around the real one.
    ...(httpClient !== undefined && { httpClient }),
    timeout: STRIPE_TIMEOUT_MS,
    maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
    telemetry: false,
    appInfo: { name: 'exactly-once-payments' },
  };
}

function serverOptions(url: URL) {
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol } as const;
}

/** Stripe as the charge use case's payment provider. `getClient` may be async (the key is a secret). */
export function createStripePayments(
  getClient: () => Promise<Stripe>,
  /** Told how long each PaymentIntent creation took, answered or not (the Stripe latency metric). */
  observeCreate?: (milliseconds: number) => void,
): PaymentProvider & PaymentLookups {
  return {
    async createPayment(create: PaymentIntentCreate): Promise<PaymentAttempt> {
      // Text that is not well-formed Unicode cannot be encoded into a request: nothing is sent, and
      // the same request would fail the same way for ever. (Decided here, from the input, so that
      // no error after a request went out can ever be taken for "nothing was sent".)
      const unsendable = unsendableField(create.params);
      if (unsendable !== undefined) throw new PaymentRejectedError(unsendable, 'request_not_sendable');
      const stripe = await clientOrUnavailable(getClient);
      const started = Date.now();
      try {
        // Sent exactly as built from the stored record; a retry after a crash gets the first PaymentIntent back.
        const intent = await inSubsegment('Stripe: create PaymentIntent', () =>
          stripe.paymentIntents.create(create.params, { idempotencyKey: create.idempotencyKey }),
        );
        return attemptOf(intent);
      } catch (error) {
        return declineOrThrow(create, error);
      } finally {
        observeCreate?.(Date.now() - started);
      }
    },

    async findPaymentCreatedBetween(order: ChargeRequest, namespace: string, from: Date, to: Date, cursor?: string): Promise<ListingPage> {
      const stripe = await clientOrUnavailable(getClient);
      const created = { gte: Math.floor(from.getTime() / 1000), lte: Math.ceil(to.getTime() / 1000) };
      let page: Stripe.ApiList<Stripe.PaymentIntent>;
      try {
        // One page per call: the caller paces each request and decides how many pages are worth reading.
        page = await stripe.paymentIntents.list({ created, limit: 100, ...(cursor !== undefined && { starting_after: cursor }) });
      } catch (error) {
        throw providerUnavailable(error);
      }
      const intent = page.data.find((candidate) => isPaymentOf(namespace, candidate, order));
      if (intent !== undefined) return { found: attemptOf(intent) };
      return { next: page.has_more ? page.data.at(-1)?.id : undefined };
    },

    async clientSecretOf(paymentId: string): Promise<string | undefined> {
      const stripe = await clientOrUnavailable(getClient);
      try {
        return (await stripe.paymentIntents.retrieve(paymentId)).client_secret ?? undefined;
      } catch (error) {
        throw providerUnavailable(error);
      }
    },

    async findPayment(order: ChargeRequest, namespace: string): Promise<PaymentAttempt | undefined> {
      const stripe = await clientOrUnavailable(getClient);
      let result: Stripe.ApiSearchResult<Stripe.PaymentIntent>;
      try {
        // Stripe's own retry of a reset connection is counted in STRIPE_LOOKUP_WORST_CASE_MS.
        result = await stripe.paymentIntents.search(
          { query: lookupQuery(namespace, order.orderId), limit: 100 },
          { maxNetworkRetries: 0, timeout: STRIPE_LOOKUP_TIMEOUT_MS },
        );
      } catch (error) {
        throw providerUnavailable(error);
      }
      // The query already narrows to this namespace; the predicate also checks amount and currency.
      const ours = result.data.filter((candidate) => isPaymentOf(namespace, candidate, order));
      const intent = ours.find((candidate) => PAID_STATUSES.has(candidate.status)) ?? ours[0];
      // "Not found" must be certain, or the caller would create a second PaymentIntent.
      if (intent === undefined && result.has_more) throw new PaymentProviderError('too many PaymentIntents match the order to be sure none is ours', true);
      return intent && attemptOf(intent);
    },
  };
}

/** Stripe's refund codes that mean "nothing (or not that much) is left to refund". */
const EXCEEDS_PAYMENT_CODES = new Set(['charge_already_refunded', 'amount_too_large']);

/** Stripe as the refund use case's provider, and the reconciler's refund lookups. */
export function createStripeRefunds(getClient: () => Promise<Stripe>): RefundProvider & RefundLookups {
  return {
    async readRefund(stripeRefundId: string): Promise<RefundAttempt | undefined> {
      const stripe = await clientOrUnavailable(getClient);
      try {
        return refundAttemptOf(await stripe.refunds.retrieve(stripeRefundId));
      } catch (error) {
        if (isStripeNotFound(error)) return undefined;
        throw providerUnavailable(error);
      }
    },

    async createRefund(create: RefundCreate): Promise<RefundAttempt> {
      const stripe = await clientOrUnavailable(getClient);
      try {
        // Sent exactly as built from the stored entry; a retry after a lost answer gets the first refund back.
        const refund = await inSubsegment('Stripe: create Refund', () => stripe.refunds.create(create.params, { idempotencyKey: create.idempotencyKey }));
        return refundAttemptOf(refund);
      } catch (error) {
        throw refundFailure(create, error);
      }
    },

    async findRefund(create: RefundCreate): Promise<RefundAttempt | undefined> {
      const stripe = await clientOrUnavailable(getClient);
      try {
        // A listing of the PaymentIntent's refunds is current (search is not), so "none" can be trusted.
        for await (const refund of stripe.refunds.list({ payment_intent: create.params.payment_intent, limit: 100 })) {
          if (isRefundOf(refund, create)) return refundAttemptOf(refund);
        }
      } catch (error) {
        throw providerUnavailable(error);
      }
      return undefined;
    },
  };
}

/** True only for a refund this deployment made for exactly this order and refundId. */
function isRefundOf(refund: Stripe.Refund, { namespace, orderId, refundId }: RefundCreate): boolean {
  return ownOrderId(namespace, refund) === orderId && refund.metadata?.[PAYMENT_METADATA.refundId] === refundId;
}

function refundAttemptOf(refund: Stripe.Refund): RefundAttempt {
  const paymentId = typeof refund.payment_intent === 'string' ? refund.payment_intent : (refund.payment_intent?.id ?? '');
  return { stripeRefundId: refund.id, paymentId, amount: refund.amount, status: (refund.status ?? 'pending') as StripeRefundStatus, created: refund.created };
}

/** Stripe's refusal of a refund as the use case's errors; anything else may or may not have reached Stripe. */
function refundFailure(request: RefundCreate, failure: unknown): Error {
  const error = stripeErrorOf(failure);
  if (error === undefined) return providerUnavailable(failure);
  if (error.statusCode === 409) return new PaymentInProgressError({ cause: error });
  // Stripe has this key with other parameters: a refund may exist under it, so nothing is released.
  if (error.type === 'StripeIdempotencyError') return new RefundConflictError(request.orderId, request.refundId, ['refund details']);
  if (error.type === 'StripeInvalidRequestError') {
    if (EXCEEDS_PAYMENT_CODES.has(error.code ?? '') || error.param === 'amount') return new RefundExceedsPaymentError(request.orderId);
    if (error.code === 'charge_disputed') return new OrderNotRefundableError(request.orderId, error.code);
    return new PaymentRejectedError(error.param === 'reason' ? 'reason' : 'body', error.code ?? 'invalid_request', { cause: error });
  }
  return providerFailure(error);
}

/**
 * Stripe's search query for an order's PaymentIntents in a namespace. The orderId is limited to
 * [A-Za-z0-9._:-] and the namespace to [A-Za-z0-9._-], so neither can break out of its quotes.
 */
function lookupQuery(namespace: string, orderId: string): string {
  const clause = (key: string, value: string) => `metadata['${key}']:'${value}'`;
  const scope = namespace === BEFORE_NAMESPACES ? clause(PAYMENT_METADATA.marker, PAYMENT_METADATA.markerValue) : clause(PAYMENT_METADATA.namespace, namespace);
  return `${clause(PAYMENT_METADATA.orderId, orderId)} AND ${scope}`;
}

/** This deployment's PaymentIntents as the audit reads them (a listing by creation time, and one by id). */
export function createStripeAuditSource(
  getClient: () => Promise<Stripe>,
  namespace: string,
  requestsPerSecond: number,
): Pick<AuditDependencies, 'paymentsCreatedBetween' | 'readPayment'> {
  // Every request of this source (listing pages, disputes, lookups by id) keeps to its share of the Stripe budget.
  const paced = stripeRequestPacer({ requestsPerSecond, parallelism: 1 });
  /** The payment with its charge (expanded): what was refunded, and the dispute's status, asked for only when the charge is disputed. */
  const auditedPayment = async (stripe: Stripe, intent: Stripe.PaymentIntent, madeIn: string): Promise<StripePayment | undefined> => {
    const orderId = ownOrderId(madeIn, intent);
    if (orderId === undefined) return undefined;
    const charge = typeof intent.latest_charge === 'object' ? intent.latest_charge : null;
    const dispute = charge?.disputed ? (await paced(() => stripe.disputes.list({ payment_intent: intent.id, limit: 1 }))).data[0]?.status : undefined;
    return {
      paymentId: intent.id,
      orderId,
      amount: intent.amount,
      currency: intent.currency,
      outcome: attemptOf(intent).status,
      created: intent.created,
      refunded: charge?.amount_refunded ?? 0,
      ...(dispute !== undefined && { dispute }),
    };
  };
  return {
    async *paymentsCreatedBetween(since, until) {
      const stripe = await getClient();
      const created = { gte: Math.floor(since.getTime() / 1000), lt: Math.ceil(until.getTime() / 1000) };
      // Page by page (newest first), each page asked for at the pace, as the loop asks for more.
      let startingAfter: string | undefined;
      do {
        const after = startingAfter;
        const page = await paced(() =>
          stripe.paymentIntents.list({ created, limit: 100, expand: ['data.latest_charge'], ...(after !== undefined && { starting_after: after }) }),
        );
        for (const intent of page.data) {
          const payment = await auditedPayment(stripe, intent, namespace);
          if (payment !== undefined) yield payment;
        }
        startingAfter = page.has_more ? page.data.at(-1)?.id : undefined;
      } while (startingAfter !== undefined);
    },
    async readPayment(paymentId, madeIn) {
      try {
        const stripe = await getClient();
        return await auditedPayment(stripe, await paced(() => stripe.paymentIntents.retrieve(paymentId, { expand: ['latest_charge'] })), madeIn);
      } catch (error) {
        if (isStripeNotFound(error)) return undefined;
        throw error;
      }
    },
  };
}

/**
 * A stripe-node error, known by the class name it carries in `type` (each of the v1 API's starts
 * with `Stripe`): unlike `instanceof Stripe.errors.…`, the check needs nothing of the SDK's module.
 */
function stripeErrorOf(error: unknown): Stripe.errors.StripeError | undefined {
  const type = error instanceof Error ? (error as { type?: unknown }).type : undefined;
  return typeof type === 'string' && type.startsWith('Stripe') ? (error as Stripe.errors.StripeError) : undefined;
}

/** Stripe's answer that the object does not exist (in this account). */
export function isStripeNotFound(error: unknown): boolean {
  const stripeError = stripeErrorOf(error);
  return stripeError?.type === 'StripeInvalidRequestError' && stripeError.statusCode === 404;
}

/** Stripe could not be asked, or did not answer in a way that settles anything (rate limited among them): retrying is safe. */
function providerUnavailable(cause: unknown): PaymentProviderError {
  if (isRateLimited(cause)) return new PaymentProviderRateLimitedError(rateLimitedReasonOf(cause), { cause });
  return new PaymentProviderError('payment provider unavailable', true, { cause });
}

/**
 * Stripe's rate limit: a 429 (stripe-node does not retry one itself), or a 400 `rate_limit`. A 429
 * `lock_timeout` is another request holding the same object, not the account's rate: a plain failure.
 */
function isRateLimited(error: unknown): error is Stripe.errors.StripeRateLimitError {
  const stripeError = stripeErrorOf(error);
  return stripeError?.type === 'StripeRateLimitError' && stripeError.code !== 'lock_timeout';
}

/** Which limit Stripe applied, from its `Stripe-Rate-Limited-Reason` header (a short token such as `global-rate`). */
function rateLimitedReasonOf(error: Stripe.errors.StripeRateLimitError): string | undefined {
  const reason = (error.headers as Record<string, string | undefined> | undefined)?.['stripe-rate-limited-reason'];
  return reason === undefined || reason === '' ? undefined : reason.slice(0, 100);
}

/** The client, or a retryable failure when it cannot be had (e.g. the key could not be read from Secrets Manager). */
async function clientOrUnavailable(getClient: () => Promise<Stripe>): Promise<Stripe> {
  try {
    return await getClient();
  } catch (error) {
    throw providerUnavailable(error);
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

function declineOrThrow(create: PaymentIntentCreate, failure: unknown): PaymentAttempt {
  const error = stripeErrorOf(failure);
  // Not an answer from Stripe that we understand: the request may or may not have reached it, so
  // only a retry with the same key can tell.
  if (error === undefined) throw providerUnavailable(failure);
  if (error.type === 'StripeCardError') {
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
  if (error.type === 'StripeIdempotencyError') throw new OrderConflictError(create.orderId, ['payment details']);
  if (error.type === 'StripeInvalidRequestError') {
    // A refused confirm may come after Stripe created the PaymentIntent: it says so, and the order keeps it.
    const order = { orderId: create.orderId, amount: create.params.amount, currency: create.params.currency };
    const made = error.payment_intent !== undefined && isPaymentOf(create.namespace, error.payment_intent, order) ? attemptOf(error.payment_intent) : undefined;
    throw new PaymentRejectedError(REQUEST_FIELD_OF_STRIPE_PARAMETER[error.param ?? ''] ?? 'body', error.code ?? 'invalid_request', {
      cause: error,
      paymentMade: made,
    });
  }
  throw providerFailure(error);
}

/** Any other Stripe error: unavailable or rate limited (retry), or our configuration when it refused our credentials. */
function providerFailure(error: Stripe.errors.StripeError): PaymentProviderError {
  // Authentication and permission errors are our configuration (e.g. the secret still holds its placeholder).
  const refused = error.type === 'StripeAuthenticationError' || error.type === 'StripePermissionError';
  return refused ? new PaymentProviderError('payment provider refused our credentials', false, { cause: error }) : providerUnavailable(error);
}

/** The first request field whose text no request can carry (an unpaired surrogate), if any. */
function unsendableField(params: PaymentIntentCreate['params']): string | undefined {
  const parameter = Object.entries(params).find(([, value]) => typeof value === 'string' && !value.isWellFormed())?.[0];
  return parameter === undefined ? undefined : (REQUEST_FIELD_OF_STRIPE_PARAMETER[parameter] ?? parameter);
}
