import { randomBytes } from 'node:crypto';

/** The Stripe objects the emulator keeps, and the shapes of its answers, shared by its parts. */

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  currency: string;
  status: string;
  customer: string | null;
  description: string | null;
  receipt_email: string | null;
  payment_method: string | null;
  automatic_payment_methods: { enabled: boolean; allow_redirects: 'always' | 'never' } | null;
  metadata: Record<string, string>;
  client_secret: string;
  created: number;
  livemode: false;
  last_payment_error: StripeErrorBody | null;
  latest_charge: string | null;
}

/**
 * Like Stripe, the emulator copies the PaymentIntent's metadata onto its Charge. `amount_refunded`
 * counts pending refunds too, as Stripe's does; a refund that fails gives its amount back.
 */
export interface Charge {
  id: string;
  object: 'charge';
  metadata: Record<string, string>;
  amount: number;
  amount_refunded: number;
  currency: string;
  payment_intent: string;
  payment_method: string;
  refunded: boolean;
  /** Stays true once a dispute was opened, whatever its outcome (as on Stripe). */
  disputed: boolean;
  status: 'succeeded';
  created: number;
  livemode: false;
}

export interface StripeErrorBody {
  type: string;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  payment_intent?: PaymentIntent;
}

export interface StoredResponse {
  status: number;
  body: unknown;
}

/** Records an event: `data.object` is a snapshot of `object`; `previousAttributes` is what an update changed. */
export type EmitEvent = (type: string, object: unknown, previousAttributes?: Record<string, unknown>) => void;

export const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

export const nowInSeconds = (): number => Math.floor(Date.now() / 1000);

export function invalidRequest(message: string, param?: string, code?: string, status = 400): StoredResponse {
  return { status, body: { error: { type: 'invalid_request_error', message, ...(param && { param }), ...(code && { code }) } } };
}

export const noSuch = (noun: string, id: string, param: string, status = 404): StoredResponse =>
  invalidRequest(`No such ${noun}: '${id}'`, param, 'resource_missing', status);

/**
 * The object an in-process call (a test's Dashboard action) answered. Stripe refusing it is the
 * test's mistake, so it is thrown with Stripe's message and code.
 */
export function answeredObject<T>(result: StoredResponse): T {
  if (result.status === 200) return result.body as T;
  const { error } = result.body as { error: StripeErrorBody };
  throw new Error(`Stripe refused it: ${error.message}${error.code ? ` (${error.code})` : ''}`);
}

/** A list's `payment_intent` and `charge` filters, for objects that belong to a payment. */
export const namedByListFilters =
  (params: Record<string, unknown>) =>
  (object: { payment_intent: string; charge: string }): boolean =>
    (params.payment_intent === undefined || object.payment_intent === params.payment_intent) &&
    (params.charge === undefined || object.charge === params.charge);

export interface ListedCollection {
  /** As the list's `url` says it, `/v1/refunds`. */
  url: string;
  /** As Stripe names one in errors, `refund`. */
  noun: string;
}

/**
 * One page of a Stripe list, newest first (insertion order breaks ties within a second), filtered by
 * `created` (a timestamp or `created[gte|gt|lte|lt]`) and paged by `limit` (1 to 100, 10 by default)
 * with `starting_after` or `ending_before`. `items` are oldest first, as they were created.
 */
export function listPage<T extends { id: string; created: number }>(
  items: readonly T[],
  params: Record<string, unknown>,
  { url, noun }: ListedCollection,
): StoredResponse {
  const limit = params.limit === undefined ? 10 : Number(params.limit);
  // Guessed wording: Stripe refuses a limit outside 1–100, but its message was not found.
  if (limit < 1 || limit > 100) return invalidRequest('Invalid limit: must be an integer between 1 and 100.', 'limit');
  const inRange = [...items].reverse().filter((item) => createdMatches(item.created, params.created));
  // Array#sort is stable, so objects of the same second stay newest-inserted first.
  inRange.sort((a, b) => b.created - a.created);

  const cursor = (param: 'starting_after' | 'ending_before') => {
    const id = params[param];
    if (typeof id !== 'string') return undefined;
    const index = inRange.findIndex((item) => item.id === id);
    // Guessed: Stripe names a cursor it does not know like any missing object, as a 400.
    return index === -1 ? noSuch(noun, id, param, 400) : index;
  };
  const after = cursor('starting_after');
  const before = cursor('ending_before');
  if (typeof after === 'object') return after;
  if (typeof before === 'object') return before;

  // Backwards, the page just newer than the cursor (has_more: newer ones remain); forwards, the page after it.
  const start = before !== undefined ? Math.max(0, before - limit) : after === undefined ? 0 : after + 1;
  const end = before ?? start + limit;
  const hasMore = before !== undefined ? start > 0 : end < inRange.length;
  return { status: 200, body: { object: 'list', data: inRange.slice(start, end), has_more: hasMore, url } };
}

function createdMatches(created: number, filter: unknown): boolean {
  if (filter === undefined) return true;
  if (typeof filter === 'string') return created === Number(filter);
  const bounds = filter as Record<string, string>;
  const bound = (name: string, fallback: number) => (bounds[name] === undefined ? fallback : Number(bounds[name]));
  return created >= bound('gte', -Infinity) && created > bound('gt', -Infinity) && created <= bound('lte', Infinity) && created < bound('lt', Infinity);
}
