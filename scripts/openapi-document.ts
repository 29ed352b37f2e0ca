/**
 * The OpenAPI 3.1 description of the HTTP API, built from the contract: the routes, the charge
 * request schema and what each route answers. `npm run openapi` writes it to docs/openapi.json;
 * test/unit/openapi.test.ts checks the answers against the handlers and the stack.
 */

import type { DeliveryOutcome } from '../lambdas/adapters/stripe-webhooks';
import { HTTP_HEADERS } from '../lambdas/contract/http-headers';
import { chargeRequestSchema, MAX_REQUEST_BODY_BYTES, PAYMENT_IDENTITY_FIELDS } from '../lambdas/contract/payment-request';
import type { QueuedAnswer, QueueIntegrationResponse } from '../lambdas/contract/queue-integration';
import { REFUND_IDENTITY_FIELDS, refundRequestSchema } from '../lambdas/contract/refund-request';
import { API_STAGE_NAME, QUEUED_STATUS, type Route, routes } from '../lambdas/contract/routes';
import { RATE_LIMITED_RETRY_AFTER_SECONDS, RETRY_AFTER_SECONDS } from '../lambdas/contract/settings';
import type { FinalStatus, LedgerStatus } from '../lambdas/core/charge-order';
import type { RefundStatus, StripeRefundStatus } from '../lambdas/core/refund-order';
import type { ErrorCode } from '../lambdas/handlers/http-responses';
import { license, version } from '../package.json';

type Json = Record<string, unknown>;
type Method = Lowercase<Route['method']>;

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  security: Array<Record<string, string[]>>;
  parameters?: Json[];
  requestBody?: Json;
  responses: Record<string, { description: string; headers?: Record<string, { $ref: string }>; content: Record<string, { schema: { $ref: string } }> }>;
}

export interface OpenApiDocument {
  openapi: string;
  info: Json;
  servers: Json[];
  paths: Record<string, Partial<Record<Method, OpenApiOperation>>>;
  components: { schemas: Record<string, Json>; headers: Record<string, Json>; securitySchemes: Record<string, Json> };
}

/** The members of a string union, listed once as keys: the compiler rejects a missing member and an unknown one. */
const members = <T extends string>(all: Record<T, true>): T[] => Object.keys(all) as T[];

const ERROR_CODES = members<ErrorCode | 'request_refused' | 'gateway_error' | 'too_many_requests' | 'service_unavailable'>({
  invalid_request: true,
  invalid_signature: true,
  not_found: true,
  payload_too_large: true,
  card_declined: true,
  idempotency_key_in_use: true,
  idempotency_key_reused: true,
  payment_provider_unavailable: true,
  payment_provider_rate_limited: true,
  store_unavailable: true,
  queue_unavailable: true,
  order_not_refundable: true,
  refund_exceeds_payment: true,
  internal_error: true,
  // API Gateway's own answers (lib/constructs/payments-api.ts, gateway responses).
  request_refused: true,
  gateway_error: true,
  too_many_requests: true,
  service_unavailable: true,
});
// A declined charge is answered 402; a replay of any finished order is `already_processed`.
const CHARGE_STATUSES = members<Exclude<FinalStatus, 'declined'> | 'already_processed'>({
  charged: true,
  requires_action: true,
  canceled: true,
  expired: true,
  partially_refunded: true,
  refunded: true,
  already_processed: true,
});
const LEDGER_STATUSES = members<LedgerStatus>({
  pending: true,
  charged: true,
  requires_action: true,
  declined: true,
  canceled: true,
  expired: true,
  partially_refunded: true,
  refunded: true,
});
const STRIPE_REFUND_STATUSES = members<StripeRefundStatus>({ pending: true, requires_action: true, succeeded: true, failed: true, canceled: true });
const REFUND_STATUSES = members<RefundStatus>({ requested: true, pending: true, requires_action: true, succeeded: true, failed: true, canceled: true });
// The webhook answers `ignored` for a payment the ledger never recorded (stripe-webhook.ts).
const WEBHOOK_OUTCOMES = members<Exclude<DeliveryOutcome, 'unknown_order'>>({ applied: true, duplicate: true, stale: true, conflict: true, ignored: true });

/** A closed object schema: every property is required unless named optional. */
function object(properties: Record<string, Json>, optional: string[] = [], description?: string): Json {
  const required = Object.keys(properties).filter((name) => !optional.includes(name));
  return { type: 'object', ...(description && { description }), additionalProperties: false, required, properties };
}

// OpenAPI 3.1 speaks JSON Schema 2020-12, which reads the draft-4 keywords the schema uses alike; only the dialect goes.
const { $schema: _draft4, ...chargeRequest } = chargeRequestSchema;
const { $schema: _refundDraft4, ...refundRequest } = refundRequestSchema;
const text = (description: string): Json => ({ type: 'string', description });
const nullableText = (description: string): Json => ({ type: ['string', 'null'], description });
const timestamp = (description: string): Json => ({ type: 'string', format: 'date-time', description });
const paymentFields = {
  orderId: chargeRequest.properties.orderId,
  paymentId: nullableText("Stripe's PaymentIntent id (`pi_…`)."),
  amount: { ...chargeRequest.properties.amount, description: 'In minor units (cents).' },
  currency: { ...chargeRequest.properties.currency, description: 'ISO 4217 code, lower case as Stripe stores it.' },
  paymentStatus: nullableText("Stripe's PaymentIntent status, e.g. `succeeded`."),
};

const refundFields = {
  refundId: refundRequest.properties.refundId,
  amount: { ...refundRequest.properties.amount, description: 'In minor units (cents).' },
  stripeRefundId: nullableText("Stripe's Refund id (`re_…`); null until Stripe answered."),
};

const schemas = {
  ChargeRequest: chargeRequest,
  RefundRequest: refundRequest,
  Refund: object({
    orderId: chargeRequest.properties.orderId,
    ...refundFields,
    currency: paymentFields.currency,
    status: {
      type: 'string',
      enum: STRIPE_REFUND_STATUSES,
      description: "Stripe's refund status; `pending` ones are settled later by a webhook or the reconciler.",
    },
  }),
  Payment: object(
    {
      ...paymentFields,
      status: {
        type: 'string',
        enum: CHARGE_STATUSES,
        description:
          'A fresh charge is `charged`, `requires_action` or `canceled` (another final status if a webhook settled it meanwhile); a replay is `already_processed`.',
      },
      clientSecret: text('Only with `requires_action`: what Stripe.js needs to let the customer finish the payment.'),
    },
    ['clientSecret'],
  ),
  PaymentRecord: object(
    {
      orderId: chargeRequest.properties.orderId,
      status: { type: 'string', enum: LEDGER_STATUSES, description: '`pending` until Stripe answered, then the latest fact (answer, webhook or reconciler).' },
      paymentId: text("Stripe's PaymentIntent id (`pi_…`)."),
      amount: paymentFields.amount,
      currency: paymentFields.currency,
      paymentStatus: text("Stripe's PaymentIntent status, e.g. `succeeded`."),
      declineCode: text("Stripe's decline code of a declined payment."),
      amountRefunded: { type: 'integer', minimum: 0, description: 'In minor units: the refunds that succeeded.' },
      refunds: {
        type: 'array',
        description:
          "The order's refunds; `requested` means the amount is reserved and Stripe's answer is not recorded yet. A refund made outside this service (the Dashboard) has the refundId `stripe#<its Stripe id>`.",
        items: object({ ...refundFields, status: { type: 'string', enum: REFUND_STATUSES } }, ['stripeRefundId']),
      },
      dispute: object(
        {
          status: text("Stripe's dispute status: `needs_response`, `under_review`, `won`, `lost` (or a `warning_…` one for an inquiry)."),
          amount: { type: 'integer', minimum: 0, description: 'In minor units: what the bank holds back (gone for good when `lost`).' },
          reason: text("Stripe's dispute reason, e.g. `fraudulent`."),
        },
        [],
        "The payment's dispute, once the customer's bank opened one; nothing can be refunded while it is open or after it is lost.",
      ),
      createdAt: timestamp('When the order was first received.'),
      updatedAt: timestamp('When the record last changed.'),
    },
    ['paymentId', 'paymentStatus', 'declineCode', 'amountRefunded', 'dispute'],
  ),
  QueuedPayment: object({
    messageId: text('The SQS MessageId of the queued order.'),
    requestId: text("API Gateway's request id (its access logs carry it)."),
    status: { type: 'string', enum: [QUEUED_STATUS] },
  } satisfies Record<keyof QueuedAnswer, Json>),
  WebhookReceipt: object({
    received: { type: 'boolean', const: true },
    outcome: {
      type: 'string',
      enum: WEBHOOK_OUTCOMES,
      description: 'What the event did to the ledger; `conflict` and `ignored` are logged for a person to look at.',
    },
  }),
  Error: object({
    error: object(
      {
        code: {
          type: 'string',
          enum: ERROR_CODES,
          description: 'Stable and machine-readable; `request_refused` and `gateway_error` are any other 4xx or 5xx API Gateway raises itself.',
        },
        message: text('For people; no stack traces or internal messages.'),
        details: {
          oneOf: [
            {
              type: 'array',
              description: '`invalid_request`: each offending field (`body` for the body as a whole).',
              items: object({ field: { type: 'string' }, message: { type: 'string' } }),
            },
            object({ ...paymentFields, declineCode: nullableText("Stripe's decline code.") }, [], '`card_declined`: the payment and why it was declined.'),
            object({ refundable: { type: 'integer', minimum: 0 } }, [], '`refund_exceeds_payment`: what is still refundable, in minor units.'),
          ],
        },
      },
      ['details'],
    ),
  }),
};
type SchemaName = keyof typeof schemas;

const headers = {
  [HTTP_HEADERS.idempotentReplayed]: {
    description: 'Sent, as `true`, when the order was already finished: the answer is the first outcome and nothing was charged.',
    schema: { type: 'string', enum: ['true'] },
  },
  [HTTP_HEADERS.retryAfter]: {
    description: 'Seconds to wait before sending the same request again.',
    schema: { type: 'integer', minimum: 1 },
    example: RETRY_AFTER_SECONDS,
  },
};
type HeaderName = keyof typeof headers;

interface Answer {
  description: string;
  body: SchemaName;
  headers?: HeaderName[];
}

interface Operation {
  operationId: string;
  summary: string;
  description: string;
  parameters?: Json[];
  /** A body other than a request model (which routes with a `requestModel` take). */
  requestBody?: Json;
  /** What the handler or integration answers; API Gateway's own answers come from the route's settings. */
  answers: Record<number, Answer>;
}

const error = (description: string, headerNames?: HeaderName[]): Answer => ({ description, body: 'Error', headers: headerNames });
const failures = {
  500: error('`internal_error`: an unexpected failure; the answer holds no internals.'),
  503: error(
    '`store_unavailable`: DynamoDB is unavailable; `service_unavailable`: API Gateway could not invoke the function (its concurrency ' +
      'throttled, Lambda unavailable), after `Retry-After` seconds. Retrying is safe.',
    ['Retry-After'],
  ),
};
const inProgress = (what: string) => error(`\`idempotency_key_in_use\`: ${what}`, ['Retry-After']);
const rateLimited = (what: string) =>
  error(
    `\`payment_provider_rate_limited\`: Stripe rate limited the request and nothing was done; ${what} after \`Retry-After\` seconds ` +
      `(${RATE_LIMITED_RETRY_AFTER_SECONDS}).`,
    ['Retry-After'],
  );

const operations: Record<string, Operation> = {
  'POST /payments': {
    operationId: 'chargePayment',
    summary: 'Charge an order, exactly once',
    description:
      'Charges the order through Stripe and answers the outcome. The orderId is the idempotency key: the same request sent again, ' +
      'after a timeout or any 5xx, never charges twice and answers the first outcome.',
    answers: {
      201: { body: 'Payment', description: 'Charged by this call (or waiting for the customer: `requires_action` with `clientSecret`).' },
      200: { body: 'Payment', headers: ['Idempotent-Replayed'], description: 'The order was already finished: its outcome, `status` `already_processed`.' },
      400: error(
        '`invalid_request`: malformed JSON, a schema violation or a field Stripe refused; `details` names each field ' +
          "(API Gateway's own model check answers without `details`).",
      ),
      402: error('`card_declined`: `details` holds the payment and its `declineCode` (with `Idempotent-Replayed` on a replay).', ['Idempotent-Replayed']),
      409: inProgress(
        'this order is still being charged, or a payment with other details under this orderId is not final yet; send it again after `Retry-After` seconds.',
      ),
      413: error(`\`payload_too_large\`: the body is over ${MAX_REQUEST_BODY_BYTES / 1024} KB.`),
      422: error(`\`idempotency_key_reused\`: this orderId was already used with a different ${PAYMENT_IDENTITY_FIELDS.join(', ')}.`),
      429: rateLimited('sending the same request (the same orderId) again is safe'),
      502: error('`payment_provider_unavailable`: Stripe could not complete the request; retrying with the same orderId is safe.'),
      ...failures,
    },
  },
  'POST /payments/async': {
    operationId: 'queuePayment',
    summary: 'Queue an order to be charged',
    description:
      'API Gateway checks the body against the charge request schema and puts it on the charge queue, with no Lambda in between; ' +
      'the queue worker charges it exactly once. `GET /payments/{orderId}` tells the outcome.',
    answers: {
      ...({
        202: { body: 'QueuedPayment', description: 'The order is on the queue.' },
        400: error('`invalid_request`: the body does not match the schema, or the queue refused the message (sending it again cannot help).'),
        503: error(
          '`queue_unavailable`: the queue failed, throttled or denied the integration its permission. After a queue failure the order may be ' +
            'queued all the same: send the same request again, never the order under a new orderId.',
        ),
      } satisfies Record<QueueIntegrationResponse['statusCode'], Answer>),
      415: error("`request_refused`: the body is not `application/json` (API Gateway's request model only reads JSON)."),
      500: error("`gateway_error`: the queue's answer did not arrive; the order may be queued: send the same request again."),
      504: error('`gateway_error`: the queue did not answer within 29 s; the order may be queued: send the same request again.'),
    },
  },
  'POST /payments/{orderId}/refunds': {
    operationId: 'refundPayment',
    summary: 'Refund an order, exactly once per refundId',
    description:
      '(orderId, refundId) is the idempotency key: the same request sent again never refunds twice and answers the first outcome. ' +
      'The amount (default: everything still refundable) is reserved before Stripe is called, so refunds together never exceed the charge.',
    answers: {
      201: { body: 'Refund', description: "Asked of Stripe by this call; `status` is Stripe's refund status." },
      200: { body: 'Refund', headers: ['Idempotent-Replayed'], description: 'The refund was already answered: its outcome, unchanged.' },
      400: error('`invalid_request`: malformed JSON, a schema violation, an orderId off its pattern, or a field Stripe refused.'),
      404: error('`not_found`: no charge of this order has started.'),
      409: error(
        '`order_not_refundable`: the order was never charged (or Stripe refuses, e.g. disputed); `idempotency_key_in_use`: this refund is in progress.',
        ['Retry-After'],
      ),
      413: error(`\`payload_too_large\`: the body is over ${MAX_REQUEST_BODY_BYTES / 1024} KB.`),
      422: error(
        `\`refund_exceeds_payment\`: more than is still refundable (\`details.refundable\`), and Stripe was not called; ` +
          `\`idempotency_key_reused\`: this refundId was already used with a different ${REFUND_IDENTITY_FIELDS.join(', ')}.`,
      ),
      429: rateLimited('the same request later finishes the same refund'),
      502: error('`payment_provider_unavailable`: Stripe could not complete the request; the same request later finishes the same refund.'),
      ...failures,
    },
  },
  'GET /payments/{orderId}': {
    operationId: 'getPayment',
    summary: "Read an order's payment",
    description: "The order's ledger record, however it was sent and settled (the answer, a Stripe webhook or the reconciler).",
    answers: {
      200: { body: 'PaymentRecord', description: "The order's record." },
      400: error('`invalid_request`: the orderId does not match its pattern.'),
      404: error('`not_found`: no charge of this order has started.'),
      ...failures,
    },
  },
  'POST /webhooks/stripe': {
    operationId: 'stripeWebhook',
    summary: 'Receive a Stripe event',
    description:
      "Stripe's webhook endpoint, authenticated by the `Stripe-Signature` header instead of an API key. Each event is applied to " +
      'the ledger once; Stripe delivers again anything not answered 2xx.',
    parameters: [
      {
        name: HTTP_HEADERS.stripeSignature,
        in: 'header',
        required: true,
        description: "Stripe's signature of the raw body with the endpoint's signing secret (`whsec_…`); checked before anything else.",
        schema: { type: 'string' },
      },
    ],
    requestBody: {
      required: true,
      description: 'A Stripe event, verified byte for byte.',
      content: { 'application/json': { schema: { type: 'object', description: 'A Stripe Event object.' } } },
    },
    answers: {
      200: { body: 'WebhookReceipt', description: 'Handled (or known already): Stripe stops delivering it.' },
      400: error('`invalid_signature`: the `Stripe-Signature` header is missing or does not match the body.'),
      409: inProgress('another delivery of this event is being applied; Stripe delivers it again.'),
      ...failures,
    },
  },
};

/** Answers API Gateway gives before any integration runs, from the route's settings (lib/constructs/payments-api.ts). */
function gatewayAnswers(route: Route): Record<number, Answer> {
  const answers: Record<number, Answer> = {};
  if (route.method === 'POST') answers[413] = error("`payload_too_large`: the body is over API Gateway's limit (10 MB).");
  if (route.apiKeyRequired) {
    answers[403] = error('`request_refused`: the `x-api-key` header is missing or not a key of this API.');
  }
  answers[429] = error("`too_many_requests`: over the route's stage throttle or the API key's usage plan; send it again after `Retry-After` seconds.", [
    'Retry-After',
  ]);
  return answers;
}

/** The gateway's and the handler's answers; a status both may give (a 429) is described by both, with the headers either sends. */
function mergedAnswers(gateway: Record<number, Answer>, handler: Record<number, Answer>): Record<number, Answer> {
  const merged = { ...gateway };
  for (const [status, answer] of Object.entries(handler).map(([code, value]) => [Number(code), value] as const)) {
    const also = gateway[status];
    merged[status] =
      also === undefined
        ? answer
        : { ...answer, description: `${also.description} ${answer.description}`, headers: [...new Set([...(also.headers ?? []), ...(answer.headers ?? [])])] };
  }
  return merged;
}

const API_KEY_SCHEME = 'apiKey';
const pathParameters: Record<string, Json> = {
  orderId: { description: 'The orderId the payment was requested with.', schema: chargeRequest.properties.orderId },
};
const jsonBody = (name: SchemaName) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } });

function operationOf(route: Route): OpenApiOperation {
  const key = `${route.method} ${route.path}`;
  const operation = operations[key] as Operation | undefined;
  if (operation === undefined) throw new Error(`no OpenAPI description for the route ${key}`);
  const { answers, parameters = [], requestBody, ...described } = operation;
  const pathNames = [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name);
  // Integer keys: an object lists them in ascending order, whatever order they were added in.
  const responses = Object.entries(mergedAnswers(gatewayAnswers(route), answers)).map(([status, { description, body, headers: names = [] }]) => {
    const responseHeaders = Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
    return [status, { description, ...(names.length > 0 && { headers: responseHeaders }), content: jsonBody(body) }];
  });
  return {
    ...described,
    security: route.apiKeyRequired ? [{ [API_KEY_SCHEME]: [] }] : [],
    ...(pathNames.length + parameters.length > 0 && {
      parameters: [...pathNames.map((name) => ({ name, in: 'path', required: true, ...pathParameters[name] })), ...parameters],
    }),
    ...(route.requestModel !== undefined ? { requestBody: { required: true, content: jsonBody(route.requestModel) } } : requestBody && { requestBody }),
    responses: Object.fromEntries(responses),
  };
}

/** The OpenAPI document of every route in routes.ts. */
export function openApiDocument(): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) paths[route.path] = { ...paths[route.path], [route.method.toLowerCase() as Method]: operationOf(route) };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Exactly-once payments API',
      version,
      license: { name: license, identifier: license },
      description:
        'Charges orders through Stripe exactly once on AWS serverless. The orderId is the idempotency key: a client may send the same ' +
        'request again after a timeout, a crash or any 5xx, and the order is charged at most once and answered with its first outcome ' +
        '(DynamoDB idempotency records and a ledger, Stripe idempotency keys). Orders are charged synchronously (`POST /payments`) or ' +
        'through a queue (`POST /payments/async`), read back by orderId, and kept up to date by Stripe webhooks. Every error body is ' +
        '`{ "error": { "code", "message", "details"? } }`.',
    },
    servers: [
      {
        url: `https://{apiId}.execute-api.{region}.amazonaws.com/${API_STAGE_NAME}`,
        description: 'A deployed stack (its `ApiUrl` output).',
        variables: {
          apiId: { default: 'apiId', description: "The REST API's id." },
          region: { default: 'us-east-1', description: 'The AWS region of the stack.' },
        },
      },
      { url: 'http://127.0.0.1:3000', description: 'The local runtime (`npm start`; PORT sets another port).' },
    ],
    paths,
    components: {
      schemas,
      headers,
      securitySchemes: {
        [API_KEY_SCHEME]: {
          type: 'apiKey',
          in: 'header',
          name: HTTP_HEADERS.apiKey,
          description: "An API key of the stack's usage plan (`GetApiKeyCommand` output).",
        },
      },
    },
  };
}

/** The document as `npm run openapi` writes it. */
export const openApiJson = (): string => `${JSON.stringify(openApiDocument(), null, 2)}\n`;
