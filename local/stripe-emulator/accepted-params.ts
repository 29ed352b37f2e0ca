import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidRequest, type StoredResponse } from './stripe-objects';

/**
 * What a parameter may hold, as Stripe's form encoding carries it: text, an integer, `true`/`false`,
 * an empty string (which unsets an Emptyable parameter), one of listed values, a list, a hash of any
 * keys (metadata), a hash of known fields, or any one of several of these.
 */
export type ParamType =
  | 'string'
  | 'integer'
  | 'boolean'
  | 'empty'
  | { enum: string[] }
  | { array: ParamType }
  | { hash: ParamType }
  | Fields
  | { oneOf: ParamType[] };

export interface Fields {
  fields: Record<string, ParamType>;
  required?: string[];
}

/** stripe-params.json: the parameters of every Stripe endpoint the emulator serves, keyed like `POST /v1/payment_intents/:id/confirm`. */
export interface AcceptedParams {
  source: string;
  endpoints: Record<string, Fields>;
}

// Generated from the pinned stripe SDK's type definitions by scripts/stripe-params.ts.
const { endpoints }: AcceptedParams = JSON.parse(readFileSync(join(__dirname, 'stripe-params.json'), 'utf8'));

/**
 * Stripe's refusal of a request whose parameters it does not accept: every unknown parameter named
 * at once, else the first missing, empty or mistyped one. Undefined for acceptable parameters, and
 * for a path that is no endpoint the emulator serves (its routing answers that).
 */
export function parameterRefusal(method: string, path: string, params: Record<string, unknown>): StoredResponse | undefined {
  const endpoint = endpoints[`${method} ${path}`] ?? endpoints[`${method} ${path.replace(/^(\/v1\/[a-z_]+\/)[^/]+/, '$1:id')}`];
  if (endpoint === undefined) return undefined;
  const { unknown, refusals } = problemsOfFields(endpoint, params, undefined);
  if (unknown.length > 0) {
    return invalidRequest(`Received unknown parameter${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, unknown[0], 'parameter_unknown');
  }
  return refusals[0];
}

interface Problems {
  /** Full names of parameters the endpoint does not have, as `metadata` or `automatic_payment_methods[bogus]`. */
  unknown: string[];
  refusals: StoredResponse[];
}

/** `a or b`, `a, b, or c`, as Stripe lists an enum's values. */
const eitherOf = new Intl.ListFormat('en', { type: 'disjunction' });

const noProblems = (): Problems => ({ unknown: [], refusals: [] });
const refused = (refusal: StoredResponse): Problems => ({ unknown: [], refusals: [refusal] });
const solved = (problems: Problems): boolean => problems.unknown.length === 0 && problems.refusals.length === 0;

// Stripe's wordings, as its answers show them; `Invalid string`, `Invalid value` and `Invalid hash` are guessed.
function problemsOf(type: ParamType, value: unknown, name: string): Problems {
  if (value === '') return acceptsEmpty(type) ? noProblems() : refused(emptyRefusal(name));
  if (typeof type === 'object' && 'oneOf' in type) {
    // Any alternative that takes a value of this form may accept it; else the first such one says why not.
    const alternatives = type.oneOf.filter((alternative) => alternative !== 'empty');
    const attempts = alternatives.filter((alternative) => fitsForm(alternative, value)).map((alternative) => problemsOf(alternative, value, name));
    return attempts.find(solved) ?? attempts[0] ?? problemsOf(alternatives[0], value, name);
  }
  if (type === 'empty') return refused(invalidRequest(`Invalid value: ${shown(value)}`, name));
  if (type === 'string') return typeof value === 'string' ? noProblems() : refused(invalidRequest(`Invalid string: ${shown(value)}`, name));
  if (type === 'integer') {
    return typeof value === 'string' && /^-?\d+$/.test(value)
      ? noProblems()
      : refused(invalidRequest(`Invalid integer: ${shown(value)}`, name, 'parameter_invalid_integer'));
  }
  if (type === 'boolean') return value === 'true' || value === 'false' ? noProblems() : refused(invalidRequest(`Invalid boolean: ${shown(value)}`, name));
  if ('enum' in type) {
    return typeof value === 'string' && type.enum.includes(value)
      ? noProblems()
      : refused(invalidRequest(`Invalid ${name}: must be one of ${eitherOf.format(type.enum)}`, name));
  }
  if ('array' in type) {
    const items = asArray(value);
    if (items === undefined) return refused(invalidRequest('Invalid array', name));
    return merged(items.map((item, index) => problemsOf(type.array, item, `${name}[${index}]`)));
  }
  const hash = asHash(value);
  if (hash === undefined) return refused(invalidRequest('Invalid hash', name));
  if ('hash' in type) return merged(Object.entries(hash).map(([key, item]) => problemsOf(type.hash, item, `${name}[${key}]`)));
  return problemsOfFields(type, hash, name);
}

function problemsOfFields({ fields, required = [] }: Fields, value: Record<string, unknown>, name: string | undefined): Problems {
  const nameOf = (key: string) => (name === undefined ? key : `${name}[${key}]`);
  const problems = Object.entries(value).map(([key, item]) =>
    Object.hasOwn(fields, key) ? problemsOf(fields[key], item, nameOf(key)) : { unknown: [nameOf(key)], refusals: [] },
  );
  const missing = required
    .filter((key) => value[key] === undefined)
    .map((key) => refused(invalidRequest(`Missing required param: ${nameOf(key)}.`, nameOf(key), 'parameter_missing')));
  return merged([...problems, ...missing]);
}

function merged(all: Problems[]): Problems {
  return { unknown: all.flatMap((problems) => problems.unknown), refusals: all.flatMap((problems) => problems.refusals) };
}

const acceptsEmpty = (type: ParamType): boolean => type === 'empty' || (typeof type === 'object' && 'oneOf' in type && type.oneOf.includes('empty'));

/** Whether the value has the form the type takes: text for a scalar, brackets for a list or a hash. */
function fitsForm(type: ParamType, value: unknown): boolean {
  const structured = typeof type === 'object' && ('array' in type || 'hash' in type || 'fields' in type);
  return structured === (typeof value !== 'string');
}

/** qs reads `expand[0]=…` as a list, but as a hash of indices past its array limit (20). */
function asArray(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  const hash = asHash(value);
  return hash !== undefined && Object.keys(hash).every((key) => /^\d+$/.test(key)) ? Object.values(hash) : undefined;
}

/** qs reads a hash whose keys are all indices (`metadata[0]=…`) as a list. */
function asHash(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) return { ...value };
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

const shown = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

function emptyRefusal(name: string): StoredResponse {
  return invalidRequest(
    `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`,
    name,
    'parameter_invalid_empty',
  );
}
