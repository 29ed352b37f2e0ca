import { type ChargeRequest, chargeRequestSchema } from '../contract/payment-request';
import { type RefundRequest, refundRequestSchema } from '../contract/refund-request';

export interface FieldError {
  /** The offending field (`body` when the body as a whole is wrong). */
  field: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

type PropertySchema = {
  type: 'string' | 'integer';
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  enum?: readonly string[];
};

/** The shape of this project's request schemas: a flat object of strings and integers. */
interface RequestSchema {
  required: readonly string[];
  properties: Record<string, unknown>;
}

/**
 * Checks decoded bodies against one of the contract's request schemas, the same objects API Gateway
 * validates with. Written by hand rather than with a JSON-schema library because the schemas use
 * nine keywords and a validator library would push the functions over their bundle budget; a
 * property test compares it with Ajv on random inputs (test/unit/validate-request.test.ts).
 */
function requestValidator<T>(schema: RequestSchema, normalise: (body: Record<string, unknown>) => T) {
  const propertySchemas = schema.properties as Record<string, PropertySchema>;
  const patterns = new Map(
    Object.entries(propertySchemas)
      .filter(([, property]) => property.pattern !== undefined)
      .map(([name, property]) => [name, new RegExp(property.pattern as string)]),
  );

  function checkValue(field: string, value: unknown, property: PropertySchema): string | undefined {
    if (property.type === 'integer') {
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer (minor units)';
      if (property.minimum !== undefined && value < property.minimum) return `must be at least ${property.minimum}`;
      if (property.maximum !== undefined && value > property.maximum) return `must be at most ${property.maximum}`;
      return undefined;
    }
    if (typeof value !== 'string') return 'must be a string';
    // JSON can carry an unpaired surrogate (`"\udc00"`), which no request to Stripe can encode.
    if (!value.isWellFormed()) return 'must be well-formed Unicode text (it has an unpaired surrogate)';
    if (property.enum !== undefined && !property.enum.includes(value)) return `must be one of ${property.enum.join(', ')}`;
    // JSON Schema counts code points, not UTF-16 units.
    const length = [...value].length;
    if (property.minLength !== undefined && length < property.minLength) return `must be at least ${property.minLength} characters`;
    if (property.maxLength !== undefined && length > property.maxLength) return `must be at most ${property.maxLength} characters`;
    const pattern = patterns.get(field);
    if (pattern !== undefined && !pattern.test(value)) return `must match ${pattern.source}`;
    return undefined;
  }

  function validate(input: unknown): ValidationResult<T> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return { ok: false, errors: [{ field: 'body', message: 'must be a JSON object' }] };
    }
    const body = input as Record<string, unknown>;
    const errors: FieldError[] = [];
    for (const field of schema.required) {
      if (!(field in body)) errors.push({ field, message: 'is required' });
    }
    for (const [field, value] of Object.entries(body)) {
      // Own properties only: `constructor` or `__proto__` must not pass as a known field.
      const property = Object.hasOwn(propertySchemas, field) ? propertySchemas[field] : undefined;
      if (property === undefined) {
        errors.push({ field, message: 'is not an allowed field' });
        continue;
      }
      const problem = checkValue(field, value, property);
      if (problem !== undefined) errors.push({ field, message: problem });
    }
    return errors.length > 0 ? { ok: false, errors } : { ok: true, value: normalise(body) };
  }

  /** Parses a raw request body and validates it; malformed JSON is reported on the `body` field. */
  function parse(rawBody: string | null | undefined): ValidationResult<T> {
    if (rawBody === null || rawBody === undefined || rawBody.trim() === '') {
      return { ok: false, errors: [{ field: 'body', message: 'is required' }] };
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(rawBody);
    } catch {
      return { ok: false, errors: [{ field: 'body', message: 'is not valid JSON' }] };
    }
    return validate(decoded);
  }

  /**
   * The errors as one line for logs and dead-letter attributes. A field the schema does not define is
   * counted, not named: its name is whatever the client sent, which may be anything.
   */
  function describe(errors: FieldError[]): string {
    const known = errors.filter(({ field }) => field === 'body' || Object.hasOwn(propertySchemas, field));
    const unknown = errors.length - known.length;
    const parts = known.map(({ field, message }) => `${field} ${message}`);
    if (unknown > 0) parts.push(`${unknown} field(s) not allowed`);
    return parts.join('; ');
  }

  return { validate, parse, describe };
}

/**
 * `currency` is normalised to lower case, as Stripe stores it; an empty `description` means none
 * (Stripe refuses an empty one, and a message queued before this rule must still charge).
 */
const chargeRequests = requestValidator<ChargeRequest>(chargeRequestSchema, ({ description, ...body }) => {
  const normalised = { ...body, currency: (body.currency as string).toLowerCase() };
  return (description === '' ? normalised : { ...normalised, description }) as unknown as ChargeRequest;
});
/** The body of a refund request; the handler adds the orderId of its path. */
const refundRequests = requestValidator<Omit<RefundRequest, 'orderId'>>(refundRequestSchema, (body) => body as unknown as Omit<RefundRequest, 'orderId'>);

export const validateChargeRequest = chargeRequests.validate;
export const parseChargeRequest = chargeRequests.parse;
export const describeFieldErrors = chargeRequests.describe;
export const validateRefundRequest = refundRequests.validate;
export const parseRefundRequest = refundRequests.parse;
