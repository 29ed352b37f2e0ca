import { type ChargeRequest, chargeRequestSchema } from '../contract/payment-request';

export interface FieldError {
  /** The offending field (`body` when the body as a whole is wrong). */
  field: string;
  message: string;
}

export type ValidationResult = { ok: true; value: ChargeRequest } | { ok: false; errors: FieldError[] };

type PropertySchema = {
  type: 'string' | 'integer';
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
};

const propertySchemas = chargeRequestSchema.properties as Record<string, PropertySchema>;
const patterns = new Map(
  Object.entries(propertySchemas)
    .filter(([, schema]) => schema.pattern !== undefined)
    .map(([name, schema]) => [name, new RegExp(schema.pattern as string)]),
);

/**
 * Checks a decoded body against `chargeRequestSchema`, the same object API Gateway validates with.
 * Written by hand rather than with a JSON-schema library because the schema uses eight keywords and
 * a validator library would push the function over its bundle budget; a property test compares it
 * with Ajv on random inputs (test/unit/validate-charge-request.test.ts).
 */
export function validateChargeRequest(input: unknown): ValidationResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ field: 'body', message: 'must be a JSON object' }] };
  }
  const body = input as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const field of chargeRequestSchema.required) {
    if (!(field in body)) errors.push({ field, message: 'is required' });
  }
  for (const [field, value] of Object.entries(body)) {
    // Own properties only: `constructor` or `__proto__` must not pass as a known field.
    const schema = Object.hasOwn(propertySchemas, field) ? propertySchemas[field] : undefined;
    if (schema === undefined) {
      errors.push({ field, message: 'is not an allowed field' });
      continue;
    }
    const problem = checkValue(field, value, schema);
    if (problem !== undefined) errors.push({ field, message: problem });
  }
  if (errors.length > 0) return { ok: false, errors };
  const value = { ...body, currency: (body.currency as string).toLowerCase() } as unknown as ChargeRequest;
  return { ok: true, value };
}

/** Parses a raw request body and validates it; malformed JSON is reported on the `body` field. */
export function parseChargeRequest(rawBody: string | null | undefined): ValidationResult {
  if (rawBody === null || rawBody === undefined || rawBody.trim() === '') {
    return { ok: false, errors: [{ field: 'body', message: 'is required' }] };
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(rawBody);
  } catch {
    return { ok: false, errors: [{ field: 'body', message: 'is not valid JSON' }] };
  }
  return validateChargeRequest(decoded);
}

function checkValue(field: string, value: unknown, schema: PropertySchema): string | undefined {
  if (schema.type === 'integer') {
    if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer (minor units)';
    if (schema.minimum !== undefined && value < schema.minimum) return `must be at least ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `must be at most ${schema.maximum}`;
    return undefined;
  }
  if (typeof value !== 'string') return 'must be a string';
  // JSON can carry an unpaired surrogate (`"\udc00"`), which no request to Stripe can encode.
  if (!value.isWellFormed()) return 'must be well-formed Unicode text (it has an unpaired surrogate)';
  // JSON Schema counts code points, not UTF-16 units.
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) return `must be at least ${schema.minLength} characters`;
  if (schema.maxLength !== undefined && length > schema.maxLength) return `must be at most ${schema.maxLength} characters`;
  const pattern = patterns.get(field);
  if (pattern !== undefined && !pattern.test(value)) return `must match ${pattern.source}`;
  return undefined;
}

/**
 * The errors as one line for logs and dead-letter attributes. A field the schema does not define is
 * counted, not named: its name is whatever the client sent, which may be anything.
 */
export function describeFieldErrors(errors: FieldError[]): string {
  const known = errors.filter(({ field }) => field === 'body' || Object.hasOwn(propertySchemas, field));
  const unknown = errors.length - known.length;
  const parts = known.map(({ field, message }) => `${field} ${message}`);
  if (unknown > 0) parts.push(`${unknown} field(s) not allowed`);
  return parts.join('; ');
}
