import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseForm } from 'qs';
import { parameterRefusal } from './accepted-params';
import { createDisputes, type Dispute, type DisputeControls } from './disputes';
import { createRefunds, type Refund, type RefundControls, type RefundReason } from './refunds';
import {
  answeredObject,
  type Charge,
  invalidRequest,
  listPage,
  newId,
  noSuch,
  nowInSeconds,
  type PaymentIntent,
  type StoredResponse,
  type StripeErrorBody,
} from './stripe-objects';
import { applyPaymentMethod, type DisputeReason, isKnownPaymentMethod } from './test-payment-methods';
import { createWebhookSender, type StripeEvent, type WebhookControls } from './webhook-sender';

export type { DisputeOutcome } from './disputes';
export type { RefundSettlement, RefundStatus } from './refunds';
export type { Charge, Dispute, DisputeControls, DisputeReason, PaymentIntent, Refund, RefundControls, RefundReason, StripeEvent };

/**
 * A small Stripe-compatible HTTP server for local runs and tests. The real `stripe` SDK talks to it
 * over HTTP. It keeps Stripe's idempotency semantics, which stripe-mock (the official mock) does
 * not: the same key replays the first response, the same key with other parameters is a 400
 * `idempotency_error`, and a key whose first request is still running is a 409.
 * Written by hand because no published package emulates those semantics. The parameters it
 * accepts come from the pinned stripe SDK's types (stripe-params.json, by scripts/stripe-params.ts).
 *
 * Besides PaymentIntents it keeps what happens to a payment afterwards: refunds (with Stripe's
 * refusals and its asynchronous test cards), disputes, and every event, listed by the Events API
 * whether or not it was delivered. Tests act in the Dashboard's and the card network's place
 * in-process (`dashboard`, `refunds`, `disputes`).
 */
export interface StripeEmulatorOptions {
  /** The secret key clients must send; defaults to a fresh `sk_test_…` value. */
  apiKey?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
}

interface IdempotencyEntry {
  fingerprint: string;
  /** Undefined while the first request with this key is still running. */
  response?: StoredResponse;
}

export interface StripeEmulatorStats {
  /** Every PaymentIntent created, declined ones included. */
  paymentIntentsCreated: number;
  /** Every API request received, faulted and replayed ones included. */
  requests: number;
  /** Requests received per Idempotency-Key header value. */
  requestsByIdempotencyKey: Record<string, number>;
  /** Requests received per endpoint, ids replaced: `POST /v1/payment_intents`, `POST /v1/payment_intents/:id/confirm`, `GET /v1/events/:id`, … */
  requestsByEndpoint: Record<string, number>;
  /** Requests answered from the idempotency store. */
  replays: number;
  /** The most requests being handled at the same time since the emulator started (or `resetPeak`). */
  peakRequestsInFlight: number;
  /** Requests answered 429 by a rate-limit fault (`rateLimitFor`, `limitRequestsPerSecond`). */
  rateLimited: number;
}

/** Switches a test flips to make Stripe misbehave. Each counter is consumed one request at a time. */
export interface StripeFaults {
  /**
   * Answer the next N requests with this status before doing anything: a Stripe `api_error`, or
   * the given error body (what Stripe puts in `error`, e.g. a PaymentIntent and a payment method).
   */
  failNext(count: number, status?: number, error?: Record<string, unknown>): void;
  /** Close the connection of the next N requests without processing them. */
  dropNextRequests(count: number): void;
  /** Process the next N requests, then close the connection instead of answering (the answer is lost). */
  dropNextResponses(count: number): void;
  /** Delay every request while it holds its idempotency key. */
  setLatency(ms: number): void;
  /** Forget every idempotency key, as Stripe may once a key is 24 hours old. */
  expireIdempotencyKeys(): void;
  /**
   * Answer every API request 429 for the next `ms` milliseconds, as Stripe's rate limiter does
   * (`rate_limit`, header `Stripe-Rate-Limited-Reason: global-rate`), before doing anything.
   */
  rateLimitFor(ms: number): void;
  /**
   * Answer 429 (`Stripe-Rate-Limited-Reason: global-rate`) to each request beyond `count` in any
   * one-second window; only to requests of `endpoint` (as `stats().requestsByEndpoint` names it,
   * e.g. `POST /v1/payment_intents`) when given, as Stripe also limits each endpoint.
   */
  limitRequestsPerSecond(count: number, endpoint?: string): void;
  /** Clear every fault. */
  clear(): void;
}

/**
 * What someone does in the Stripe Dashboard, behind the service's back: no idempotency key, no
 * HTTP request. A refusal Stripe would give is thrown with its message.
 */
export interface DashboardActions {
  /** Refunds all (or `amount` of) what is left on the PaymentIntent's charge; a Dashboard refund carries no metadata. */
  refund(paymentIntentId: string, options?: { amount?: number; reason?: RefundReason }): Refund;
  /** Opens a chargeback on the PaymentIntent's charge (`fraudulent` unless told), as a cardholder's bank would. */
  dispute(paymentIntentId: string, options?: { reason?: DisputeReason }): Dispute;
}

export interface StripeEmulator {
  url: string;
  port: number;
  apiKey: string;
  faults: StripeFaults;
  /** Signed webhook deliveries of the events the emulator emits when its objects change. */
  webhooks: WebhookControls;
  refunds: RefundControls;
  disputes: DisputeControls;
  dashboard: DashboardActions;
  stats(): StripeEmulatorStats;
  /** Starts measuring `peakRequestsInFlight` afresh. */
  resetPeak(): void;
  /** The PaymentIntents whose metadata names this orderId (and this namespace, when given). */
  paymentIntentsForOrder(orderId: string, namespace?: string): PaymentIntent[];
  /** For the bench, in process: succeeded PaymentIntents (and their charges) made at `created`, without a request or an event each. */
  seedPaymentIntents(seeds: ReadonlyArray<{ amount: number; currency: string; metadata: Record<string, string>; created: number }>): PaymentIntent[];
  stop(): Promise<void>;
}

export async function startStripeEmulator(options: StripeEmulatorOptions = {}): Promise<StripeEmulator> {
  const apiKey = options.apiKey ?? `sk_test_emulator_${randomBytes(12).toString('hex')}`;
  const paymentIntents = new Map<string, PaymentIntent>();
  const charges = new Map<string, Charge>();
  const webhooks = createWebhookSender();
  const refunds = createRefunds({ paymentIntents, charges, emit: webhooks.emit });
  const disputes = createDisputes({ paymentIntents, charges, emit: webhooks.emit });
  const idempotency = new Map<string, IdempotencyEntry>();
  const stats: StripeEmulatorStats = {
    paymentIntentsCreated: 0,
    requests: 0,
    requestsByIdempotencyKey: {},
    requestsByEndpoint: {},
    replays: 0,
    peakRequestsInFlight: 0,
    rateLimited: 0,
  };
  let requestsInFlight = 0;
  const apiError = { type: 'api_error', message: 'Injected failure.' };
  const pending = { failures: 0, failureStatus: 500, failureError: apiError as Record<string, unknown>, droppedRequests: 0, droppedResponses: 0, latencyMs: 0 };
  const rateLimit = { until: 0, perSecond: Number.POSITIVE_INFINITY, endpoint: undefined as string | undefined, admitted: [] as number[] };
  /** Whether Stripe's rate limiter refuses a request to `endpoint` arriving now; one it admits counts towards the window. */
  const rateLimited = (endpoint: string, now: number): boolean => {
    if (now < rateLimit.until) return true;
    if (rateLimit.endpoint !== undefined && rateLimit.endpoint !== endpoint) return false;
    rateLimit.admitted = rateLimit.admitted.filter((at) => now - at < 1000);
    if (rateLimit.admitted.length >= rateLimit.perSecond) return true;
    rateLimit.admitted.push(now);
    return false;
  };

  const faults: StripeFaults = {
    failNext: (count, status = 500, error = apiError) => Object.assign(pending, { failures: count, failureStatus: status, failureError: error }),
    dropNextRequests: (count) => {
      pending.droppedRequests = count;
    },
    dropNextResponses: (count) => {
      pending.droppedResponses = count;
    },
    setLatency: (ms) => {
      pending.latencyMs = ms;
    },
    expireIdempotencyKeys: () => idempotency.clear(),
    rateLimitFor: (ms) => {
      rateLimit.until = Date.now() + ms;
    },
    limitRequestsPerSecond: (count, endpoint) => Object.assign(rateLimit, { perSecond: count, endpoint, admitted: [] }),
    clear: () => {
      Object.assign(pending, { failures: 0, droppedRequests: 0, droppedResponses: 0, latencyMs: 0 });
      Object.assign(rateLimit, { until: 0, perSecond: Number.POSITIVE_INFINITY, endpoint: undefined, admitted: [] });
    },
  };

  function createPaymentIntent(params: Record<string, unknown>): StoredResponse {
    const amount = Number(params.amount);
    // Guessed: the wording Stripe gives a payout of less than 1.
    if (amount < 1) return invalidRequest('This value must be greater than or equal to 1.', 'amount', 'parameter_invalid_integer');
    // Stripe's smallest charge is about half a dollar in most currencies.
    if (amount < MINIMUM_AMOUNT) return invalidRequest(`Amount must be at least ${MINIMUM_AMOUNT}.`, 'amount', 'amount_too_small');
    const currency = String(params.currency);
    if (!/^[a-z]{3}$/i.test(currency)) return invalidRequest('Invalid currency.', 'currency');
    const receiptEmail = typeof params.receipt_email === 'string' ? params.receipt_email : null;
    // Stripe refuses an address without a dotted domain (e.g. `name@com`).
    if (receiptEmail !== null && !/^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$/.test(receiptEmail)) {
      return invalidRequest(`Invalid email address: ${receiptEmail}`, 'receipt_email', 'email_invalid');
    }
    const paymentMethod = typeof params.payment_method === 'string' ? params.payment_method : null;
    if (paymentMethod !== null && !isKnownPaymentMethod(paymentMethod)) {
      return invalidRequest(`No such PaymentMethod: '${paymentMethod}'`, 'payment_method', 'resource_missing');
    }
    const automaticPaymentMethods = automaticPaymentMethodsOf(params);
    const confirm = params.confirm === 'true';
    // Refused before a PaymentIntent is made (whether Stripe makes one first is not documented).
    if (confirm && needsReturnUrl(automaticPaymentMethods, params)) return invalidRequest(RETURN_URL_REQUIRED);
    if (confirm && paymentMethod === null) {
      return invalidRequest("You cannot confirm this PaymentIntent because it's missing a payment method.", 'payment_method');
    }
    const id = newId('pi');
    const intent: PaymentIntent = {
      id,
      object: 'payment_intent',
      amount,
      currency: currency.toLowerCase(),
      status: paymentMethod === null ? 'requires_payment_method' : 'requires_confirmation',
      customer: typeof params.customer === 'string' ? params.customer : null,
      description: typeof params.description === 'string' ? params.description : null,
      receipt_email: receiptEmail,
      payment_method: paymentMethod,
      automatic_payment_methods: automaticPaymentMethods,
      metadata: (params.metadata as Record<string, string> | undefined) ?? {},
      client_secret: `${id}_secret_${randomBytes(8).toString('hex')}`,
      created: nowInSeconds(),
      livemode: false,
      last_payment_error: null,
      latest_charge: null,
    };
    paymentIntents.set(intent.id, intent);
    stats.paymentIntentsCreated += 1;
    webhooks.emit('payment_intent.created', intent);
    if (!confirm || paymentMethod === null) return { status: 200, body: intent };
    return confirmIntent(intent, paymentMethod);
  }

  /**
   * Confirms with a test payment method: succeeds (with a Charge, which the dispute test methods
   * then see disputed), needs action, or declines (402).
   */
  function confirmIntent(intent: PaymentIntent, paymentMethod: string): StoredResponse {
    intent.payment_method = paymentMethod;
    const outcome = applyPaymentMethod(paymentMethod);
    if (outcome.kind === 'declined') {
      const error: StripeErrorBody = {
        type: 'card_error',
        code: 'card_declined',
        decline_code: outcome.declineCode,
        message: outcome.message,
        param: 'payment_method',
      };
      intent.status = 'requires_payment_method';
      intent.last_payment_error = error;
      webhooks.emit('payment_intent.payment_failed', intent);
      return { status: 402, body: { error: { ...error, payment_intent: intent } } };
    }
    intent.status = outcome.status;
    intent.last_payment_error = null;
    if (outcome.status === 'succeeded') {
      const charge: Charge = {
        id: newId('ch'),
        object: 'charge',
        metadata: { ...intent.metadata },
        amount: intent.amount,
        amount_refunded: 0,
        currency: intent.currency,
        payment_intent: intent.id,
        payment_method: paymentMethod,
        refunded: false,
        disputed: false,
        status: 'succeeded',
        created: nowInSeconds(),
        livemode: false,
      };
      charges.set(charge.id, charge);
      intent.latest_charge = charge.id;
      webhooks.emit('payment_intent.succeeded', intent);
      if (outcome.dispute !== undefined) disputes.open(charge, outcome.dispute);
    } else {
      webhooks.emit('payment_intent.requires_action', intent);
    }
    return { status: 200, body: intent };
  }

  function confirmPaymentIntent(id: string, params: Record<string, unknown>): StoredResponse {
    const intent = paymentIntents.get(id);
    if (intent === undefined) return invalidRequest(`No such payment_intent: '${id}'`, 'intent', 'resource_missing', 404);
    if (needsReturnUrl(intent.automatic_payment_methods, params)) {
      // As Stripe answers it: with the PaymentIntent, unchanged.
      return { status: 400, body: { error: { type: 'invalid_request_error', message: RETURN_URL_REQUIRED, payment_intent: intent } } };
    }
    const paymentMethod = typeof params.payment_method === 'string' ? params.payment_method : intent.payment_method;
    if (paymentMethod === null || !isKnownPaymentMethod(paymentMethod)) {
      return invalidRequest('A known test payment method is required.', 'payment_method', 'resource_missing');
    }
    if (intent.status === 'succeeded' || intent.status === 'canceled') {
      return invalidRequest(`This PaymentIntent's status is ${intent.status}.`, undefined, 'payment_intent_unexpected_state');
    }
    return confirmIntent(intent, paymentMethod);
  }

  function cancelPaymentIntent(id: string): StoredResponse {
    const intent = paymentIntents.get(id);
    if (intent === undefined) return invalidRequest(`No such payment_intent: '${id}'`, 'intent', 'resource_missing', 404);
    if (intent.status === 'succeeded') return invalidRequest('A succeeded PaymentIntent cannot be canceled.', undefined, 'payment_intent_unexpected_state');
    intent.status = 'canceled';
    webhooks.emit('payment_intent.canceled', intent);
    return { status: 200, body: intent };
  }

  /**
   * Stripe's search language, as far as this project uses it: `metadata['key']:'value'` clauses
   * joined by `AND`. Answers at most `limit` results, and says whether there are more.
   */
  function searchPaymentIntents(params: Record<string, unknown>): StoredResponse {
    const clauses = String(params.query ?? '')
      .split(' AND ')
      .map((clause) => /^metadata\['([^']+)'\]:'([^']*)'$/.exec(clause));
    if (clauses.some((clause) => clause === null)) {
      return invalidRequest("The emulator only understands metadata['key']:'value' clauses joined by AND.", 'query');
    }
    const matches = [...paymentIntents.values()].filter((intent) =>
      clauses.every((clause) => intent.metadata[(clause as RegExpExecArray)[1]] === (clause as RegExpExecArray)[2]),
    );
    const limit = params.limit === undefined ? 10 : Number(params.limit);
    const data = matches.slice(0, limit);
    return { status: 200, body: { object: 'search_result', data, has_more: matches.length > limit, next_page: null, url: '/v1/payment_intents/search' } };
  }

  /**
   * `GET /v1/events`, newest first as Stripe lists them: every event ever emitted, delivered or not,
   * of one `type` (`*` a wildcard, as in `charge.dispute.*`) or any of `types`.
   */
  function listEvents(params: Record<string, unknown>): StoredResponse {
    if (params.type !== undefined && params.types !== undefined) {
      // Guessed wording; Stripe's docs say to pass one or the other.
      return invalidRequest('You may pass either type or types, but not both.', 'types');
    }
    const wanted = params.types === undefined ? undefined : new Set([params.types].flat().map(String));
    const pattern = typeof params.type === 'string' ? new RegExp(`^${params.type.split('*').map(escapeRegExp).join('.*')}$`) : undefined;
    const matching = webhooks
      .events()
      .filter((event) => (wanted === undefined || wanted.has(event.type)) && (pattern === undefined || pattern.test(event.type)));
    return listPage(matching, params, { url: '/v1/events', noun: 'event' });
  }

  /** The objects `GET /v1/<collection>/:id` retrieves, by collection, with the name Stripe gives one in errors. */
  const retrievable = new Map<string, { noun: string; find(id: string): unknown }>([
    ['payment_intents', { noun: 'payment_intent', find: (id) => paymentIntents.get(id) }],
    ['charges', { noun: 'charge', find: (id) => charges.get(id) }],
    ['refunds', { noun: 'refund', find: refunds.find }],
    ['disputes', { noun: 'dispute', find: disputes.find }],
    ['events', { noun: 'event', find: (id) => webhooks.events().find((event) => event.id === id) }],
  ]);

  /**
   * `expand[]` of a PaymentIntent's `latest_charge` (retrieved) or `data.latest_charge` (listed):
   * the one expansion this project asks for, so the audit reads refunds and disputes with the payment.
   */
  function expandLatestCharge(result: StoredResponse, params: Record<string, unknown>): StoredResponse {
    const expand = new Set([params.expand ?? []].flat().map(String));
    const withCharge = (intent: PaymentIntent) => ({
      ...intent,
      latest_charge: intent.latest_charge === null ? null : (charges.get(intent.latest_charge) ?? null),
    });
    const body = result.body as { object?: string; data?: PaymentIntent[] };
    if (result.status !== 200) return result;
    if (body.object === 'list' && expand.has('data.latest_charge')) return { ...result, body: { ...body, data: body.data?.map(withCharge) } };
    if (body.object === 'payment_intent' && expand.has('latest_charge')) return { ...result, body: withCharge(body as PaymentIntent) };
    return result;
  }

  function route(method: string, path: string, params: Record<string, unknown>): StoredResponse {
    const refusal = parameterRefusal(method, path, params);
    if (refusal !== undefined) return refusal;
    const answer = answerOf(method, path, params);
    return method === 'GET' && path.startsWith('/v1/payment_intents') ? expandLatestCharge(answer, params) : answer;
  }

  function answerOf(method: string, path: string, params: Record<string, unknown>): StoredResponse {
    if (method === 'POST' && path === '/v1/payment_intents') return createPaymentIntent(params);
    if (method === 'GET' && path === '/v1/payment_intents/search') return searchPaymentIntents(params);
    if (method === 'GET' && path === '/v1/payment_intents') return listPage([...paymentIntents.values()], params, { url: path, noun: 'payment_intent' });
    if (method === 'POST' && path === '/v1/refunds') return refunds.create(params);
    if (method === 'GET' && path === '/v1/refunds') return refunds.list(params);
    if (method === 'GET' && path === '/v1/disputes') return disputes.list(params);
    if (method === 'GET' && path === '/v1/events') return listEvents(params);
    const action = /^\/v1\/payment_intents\/([^/]+)\/(confirm|cancel)$/.exec(path);
    if (method === 'POST' && action) {
      const id = decodeURIComponent(action[1]);
      return action[2] === 'confirm' ? confirmPaymentIntent(id, params) : cancelPaymentIntent(id);
    }
    const retrieve = /^\/v1\/([a-z_]+)\/([^/]+)$/.exec(path);
    const collection = retrieve === null ? undefined : retrievable.get(retrieve[1]);
    if (method === 'GET' && retrieve && collection) {
      const id = decodeURIComponent(retrieve[2]);
      const object = collection.find(id);
      return object === undefined ? noSuch(collection.noun, id, 'id') : { status: 200, body: object };
    }
    return invalidRequest(`Unrecognized request URL (${method}: ${path}).`, undefined, undefined, 404);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://emulator');
    const rawBody = await readBody(request);
    const method = request.method ?? 'GET';
    const key = header(request, 'idempotency-key');
    stats.requests += 1;
    if (key !== undefined) stats.requestsByIdempotencyKey[key] = (stats.requestsByIdempotencyKey[key] ?? 0) + 1;
    const endpoint = `${method} ${url.pathname.replace(/\/(?:pi|ch|re|dp|evt)_[^/]+/g, '/:id')}`;
    stats.requestsByEndpoint[endpoint] = (stats.requestsByEndpoint[endpoint] ?? 0) + 1;

    if (pending.droppedRequests > 0) {
      pending.droppedRequests -= 1;
      request.socket.destroy();
      return;
    }
    if (pending.failures > 0) {
      pending.failures -= 1;
      return send(response, { status: pending.failureStatus, body: { error: pending.failureError } });
    }
    if (rateLimited(endpoint, Date.now())) {
      stats.rateLimited += 1;
      return send(response, { status: 429, body: { error: RATE_LIMITED } }, { 'Stripe-Rate-Limited-Reason': 'global-rate' });
    }
    if (header(request, 'authorization') !== `Bearer ${apiKey}`) {
      // Stripe names the key it refused, masked but for its last four characters.
      const sent = (header(request, 'authorization') ?? '').replace(/^Bearer /, '');
      const masked = `${sent.slice(0, 8)}${'*'.repeat(Math.max(0, sent.length - 12))}${sent.slice(-4)}`;
      return send(response, { status: 401, body: { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${masked}` } } });
    }

    const params = parseForm(method === 'GET' ? url.searchParams.toString() : rawBody) as Record<string, unknown>;
    // Stripe scopes keys to the account and compares the endpoint and parameters of every reuse.
    const idempotencyKey = method === 'POST' ? key : undefined;
    const fingerprint = createHash('sha256')
      .update(`${method} ${url.pathname} ${canonicalJson(params)}`)
      .digest('hex');
    if (idempotencyKey !== undefined) {
      const entry = idempotency.get(idempotencyKey);
      if (entry !== undefined && entry.fingerprint !== fingerprint) {
        const message = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`;
        return send(response, { status: 400, body: { error: { type: 'idempotency_error', message } } });
      }
      if (entry?.response === undefined && entry !== undefined) {
        const message =
          'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through). Please try again later.';
        return send(response, { status: 409, body: { error: { type: 'invalid_request_error', code: 'idempotency_key_in_use', message } } });
      }
      if (entry?.response !== undefined) {
        stats.replays += 1;
        return answer(request, response, entry.response, { 'Idempotent-Replayed': 'true', 'Idempotency-Key': idempotencyKey });
      }
      idempotency.set(idempotencyKey, { fingerprint });
    }

    if (pending.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, pending.latencyMs));
    const result = route(method, url.pathname, params);
    if (idempotencyKey !== undefined) {
      // Like Stripe, requests that failed validation are not saved: the key can be used again.
      if (result.status === 400 || result.status === 404) idempotency.delete(idempotencyKey);
      else idempotency.set(idempotencyKey, { fingerprint, response: result });
    }
    answer(request, response, result, idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey });
  }

  /** Sends a processed answer, unless a test asked for this answer to be lost on the way. */
  function answer(request: IncomingMessage, response: ServerResponse, result: StoredResponse, headers: Record<string, string>): void {
    if (pending.droppedResponses > 0) {
      pending.droppedResponses -= 1;
      request.socket.destroy();
      return;
    }
    send(response, result, headers);
  }

  const server: Server = createServer((request, response) => {
    requestsInFlight += 1;
    stats.peakRequestsInFlight = Math.max(stats.peakRequestsInFlight, requestsInFlight);
    handle(request, response)
      .catch((error: unknown) => {
        send(response, { status: 500, body: { error: { type: 'api_error', message: `Emulator error: ${String(error)}` } } });
      })
      .finally(() => (requestsInFlight -= 1));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    apiKey,
    faults,
    webhooks,
    refunds: refunds.controls,
    disputes: { close: disputes.close },
    dashboard: {
      refund: (paymentIntentId, { amount, reason } = {}) =>
        answeredObject<Refund>(refunds.create({ payment_intent: paymentIntentId, ...(amount !== undefined && { amount }), ...(reason && { reason }) })),
      dispute: (paymentIntentId, { reason = 'fraudulent' } = {}) => answeredObject<Dispute>(disputes.openOnPaymentIntent(paymentIntentId, reason)),
    },
    stats: () => ({ ...stats, requestsByIdempotencyKey: { ...stats.requestsByIdempotencyKey }, requestsByEndpoint: { ...stats.requestsByEndpoint } }),
    resetPeak: () => {
      stats.peakRequestsInFlight = requestsInFlight;
    },
    paymentIntentsForOrder: (orderId, namespace) =>
      [...paymentIntents.values()].filter(
        (intent) => intent.metadata.orderId === orderId && (namespace === undefined || intent.metadata.namespace === namespace),
      ),
    seedPaymentIntents: (seeds) =>
      seeds.map(({ amount, currency, metadata, created }) => {
        const id = newId('pi');
        const charge: Charge = {
          id: newId('ch'),
          object: 'charge',
          metadata,
          amount,
          amount_refunded: 0,
          currency,
          payment_intent: id,
          payment_method: 'pm_card_visa',
          refunded: false,
          disputed: false,
          status: 'succeeded',
          created,
          livemode: false,
        };
        charges.set(charge.id, charge);
        const intent: PaymentIntent = {
          id,
          object: 'payment_intent',
          amount,
          currency,
          status: 'succeeded',
          customer: null,
          description: null,
          receipt_email: null,
          payment_method: 'pm_card_visa',
          automatic_payment_methods: null,
          metadata,
          client_secret: `${id}_secret_seeded`,
          created,
          livemode: false,
          last_payment_error: null,
          latest_charge: charge.id,
        };
        paymentIntents.set(id, intent);
        return intent;
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const MINIMUM_AMOUNT = 50;

/** Stripe's answer when its rate limiter refuses a request (stripe-node raises StripeRateLimitError for a 429). */
const RATE_LIMITED = {
  type: 'invalid_request_error',
  code: 'rate_limit',
  message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
};

/** Stripe's refusal of a confirmation that may have to send the customer elsewhere, when nothing says where they come back to. */
const RETURN_URL_REQUIRED =
  "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of these payment methods might redirect your customer off of your page, you must provide a `return_url`. If you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.";

/**
 * `automatic_payment_methods` as a PaymentIntent keeps it: redirects are allowed unless the request
 * says `never`. Left out (and no `allowed_payment_method_types`), Stripe turns them on with redirects
 * allowed, as it has since API version 2023-08-16.
 */
function automaticPaymentMethodsOf(params: Record<string, unknown>): PaymentIntent['automatic_payment_methods'] {
  const requested = params.automatic_payment_methods as { enabled: string; allow_redirects?: 'always' | 'never' } | undefined;
  if (requested === undefined) return params.allowed_payment_method_types === undefined ? { enabled: true, allow_redirects: 'always' } : null;
  return { enabled: requested.enabled === 'true', allow_redirects: requested.allow_redirects ?? 'always' };
}

/** A confirmation may redirect when automatic payment methods allow it, and then Stripe wants a `return_url`. */
const needsReturnUrl = (automatic: PaymentIntent['automatic_payment_methods'], params: Record<string, unknown>): boolean =>
  automatic?.enabled === true && automatic.allow_redirects !== 'never' && params.return_url === undefined;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function send(response: ServerResponse, { status, body }: StoredResponse, headers: Record<string, string> = {}): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Request-Id': `req_${randomBytes(8).toString('hex')}`,
    ...headers,
  });
  response.end(JSON.stringify(body));
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** JSON with sorted keys, so parameter order does not change a request's fingerprint. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
