import Ajv from 'ajv';
import fc from 'fast-check';
import { chargeRequestSchema, DESCRIPTION_MAX_CHARACTERS, MAX_AMOUNT_MINOR_UNITS } from '../../lambdas/contract/payment-request';
import { REFUND_REASONS, refundRequestSchema } from '../../lambdas/contract/refund-request';
import { parseChargeRequest, parseRefundRequest, validateChargeRequest, validateRefundRequest } from '../../lambdas/core/validate-request';

const valid = { orderId: 'order-1', amount: 1999, currency: 'EUR', paymentMethod: 'pm_card_visa', customerId: 'cus_123', description: 'two socks' };

function fieldsInError(input: unknown): string[] {
  const result = validateChargeRequest(input);
  return result.ok ? [] : result.errors.map((error) => error.field);
}

describe('validateChargeRequest', () => {
  it('accepts a complete request and lower-cases the currency without touching the input', () => {
    const input = { ...valid };
    const result = validateChargeRequest(input);
    expect(result).toEqual({ ok: true, value: { ...valid, currency: 'eur' } });
    expect(input.currency).toBe('EUR');
  });

  it('takes an empty description for none, which Stripe would refuse (parameter_invalid_empty)', () => {
    const { description: _none, ...withoutDescription } = valid;
    expect(validateChargeRequest({ ...valid, description: '' })).toStrictEqual({ ok: true, value: { ...withoutDescription, currency: 'eur' } });
  });

  it('accepts the minimal request (orderId, amount, currency)', () => {
    expect(validateChargeRequest({ orderId: 'a', amount: 1, currency: 'usd' }).ok).toBe(true);
  });

  it.each(['orderId', 'amount', 'currency'])('requires %s', (field) => {
    const input: Record<string, unknown> = { ...valid };
    delete input[field];
    expect(validateChargeRequest(input)).toEqual({ ok: false, errors: [{ field, message: 'is required' }] });
  });

  it.each([
    ['orderId', 'empty', ''],
    ['orderId', '256 characters', 'x'.repeat(256)],
    ['orderId', 'a space', 'order 1'],
    ['orderId', 'a slash', 'order/1'],
    ['orderId', 'a number', 42],
    ['amount', 'zero', 0],
    ['amount', 'negative', -5],
    ['amount', 'a fraction', 19.99],
    ['amount', 'above the maximum', MAX_AMOUNT_MINOR_UNITS + 1],
    ['amount', 'a string', '1999'],
    ['currency', 'two letters', 'eu'],
    ['currency', 'four letters', 'euro'],
    ['currency', 'a digit', 'e1r'],
    ['currency', 'a numeric code', 978],
    ['paymentMethod', 'empty', ''],
    ['paymentMethod', 'a space', 'pm card'],
    ['paymentMethod', 'a card number', '4242424242424242'],
    ['paymentMethod', 'a Stripe id of another kind', 'card_1Abc'],
    ['customerId', 'empty', ''],
    ['customerId', 'null', null],
    ['customerId', 'an e-mail address', 'jane@example.com'],
    ['customerId', 'a name', 'jane_doe'],
    ['description', `${DESCRIPTION_MAX_CHARACTERS + 1} characters (items stay within 1 KB)`, 'x'.repeat(DESCRIPTION_MAX_CHARACTERS + 1)],
    ['receiptEmail', 'no @', 'jane.example.com'],
    ['receiptEmail', 'no dot in the domain (Stripe: invalid email address)', 'otameshi@com'],
    ['receiptEmail', 'an empty domain label', 'jane@.com'],
    ['receiptEmail', 'a quoted local part', '"q"@example.com'],
    ['receiptEmail', 'a zero-width space', 'jane\u200b@example.com'],
    ['receiptEmail', 'a control character', 'jane\u0000@example.com'],
    ['receiptEmail', 'a space', 'jane doe@example.com'],
    ['receiptEmail', '255 characters', `${'j'.repeat(243)}@example.com`],
    ['description', 'an unpaired low surrogate', 'x\udc00'],
    ['description', 'an unpaired high surrogate', '\ud83dx'],
  ])('rejects %s given %s, naming the field', (field, _case, value) => {
    expect(fieldsInError({ ...valid, [field]: value })).toEqual([field]);
  });

  it.each([
    ['orderId', '255 characters', 'x'.repeat(255)],
    ['orderId', 'every allowed punctuation', 'A-Z_a.z:0-9'],
    ['amount', 'the maximum', MAX_AMOUNT_MINOR_UNITS],
    ['description', 'empty (meaning none)', ''],
    ['description', 'one character', 'x'],
    ['receiptEmail', 'an e-mail address', 'jane.doe+receipts@example.com'],
    ['description', 'a character outside the BMP (a surrogate pair)', 'socks 🧦'],
    ['paymentMethod', 'a Stripe test method', 'pm_card_visa'],
    ['customerId', 'a Stripe customer id', 'cus_NffrFeUfNV2Hib'],
  ])('accepts %s at the edge: %s', (field, _case, value) => {
    expect(fieldsInError({ ...valid, [field]: value })).toEqual([]);
  });

  it('rejects unknown fields by name', () => {
    expect(fieldsInError({ ...valid, amount_cents: 5 })).toEqual(['amount_cents']);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])('rejects %s, a name every object inherits', (field) => {
    expect(fieldsInError(JSON.parse(`{"orderId":"o","amount":1,"currency":"eur","${field}":"x"}`))).toEqual([field]);
  });

  it('reports every bad field at once', () => {
    expect(fieldsInError({ orderId: '', amount: 0 })).toEqual(['currency', 'orderId', 'amount']);
  });

  it.each([null, [], 'order', 12])('rejects a body that is not an object (%j)', (input) => {
    expect(fieldsInError(input)).toEqual(['body']);
  });
});

describe('parseChargeRequest', () => {
  it.each([
    [undefined, 'is required'],
    ['', 'is required'],
    ['{"orderId":', 'is not valid JSON'],
  ])('rejects the raw body %j on the body field', (raw, message) => {
    expect(parseChargeRequest(raw)).toEqual({ ok: false, errors: [{ field: 'body', message }] });
  });

  it('parses and validates JSON text', () => {
    expect(parseChargeRequest(JSON.stringify(valid)).ok).toBe(true);
  });
});

describe('agreement with a reference JSON-schema validator', () => {
  // API Gateway validates with the schema, the Lambda with this code: they must never disagree.
  const { $schema: _dialect, ...schema } = chargeRequestSchema;
  const reference = new Ajv({ allErrors: true }).compile(schema);

  const fieldValue = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/),
    fc.stringMatching(/^[A-Za-z]{3}$/),
    fc.stringMatching(/^(pm|cus)_[A-Za-z0-9_]{1,12}$/),
    fc.emailAddress(),
    fc.integer({ min: -10, max: MAX_AMOUNT_MINOR_UNITS + 10 }),
    fc.double(),
    fc.constant(null),
    fc.boolean(),
  );
  const body = fc.dictionary(
    fc.constantFrom('orderId', 'amount', 'currency', 'paymentMethod', 'customerId', 'description', 'receiptEmail', 'extra', 'constructor', 'toString'),
    fieldValue,
  );

  // Well-formed strings only (fast-check's default): JSON Schema has no word for unpaired surrogates,
  // which this validator also refuses (above).
  it('accepts exactly what Ajv accepts', () => {
    fc.assert(
      fc.property(body, (input) => {
        expect(validateChargeRequest(input).ok).toBe(reference(input));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('validateRefundRequest', () => {
  it("accepts a refundId alone, or with an amount and one of Stripe's reasons", () => {
    expect(validateRefundRequest({ refundId: 'r-1' })).toEqual({ ok: true, value: { refundId: 'r-1' } });
    expect(validateRefundRequest({ refundId: 'r:1', amount: 50, reason: 'duplicate' }).ok).toBe(true);
  });

  it.each([
    [{}, 'refundId', 'is required'],
    [{ refundId: 'a b' }, 'refundId', 'must match ^[A-Za-z0-9._:-]{1,255}$'],
    [{ refundId: 'r', amount: 0 }, 'amount', 'must be at least 1'],
    [{ refundId: 'r', amount: 1.5 }, 'amount', 'must be an integer (minor units)'],
    [{ refundId: 'r', reason: 'because' }, 'reason', `must be one of ${REFUND_REASONS.join(', ')}`],
    [{ refundId: 'r', orderId: 'o' }, 'orderId', 'is not an allowed field'],
  ])('refuses %j on the field %s', (input, field, message) => {
    expect(validateRefundRequest(input)).toEqual({ ok: false, errors: [{ field, message }] });
  });

  it('reports malformed JSON on the body field', () => {
    expect(parseRefundRequest('{')).toEqual({ ok: false, errors: [{ field: 'body', message: 'is not valid JSON' }] });
  });

  it('accepts exactly what Ajv accepts', () => {
    const { $schema: _dialect, ...schema } = refundRequestSchema;
    const reference = new Ajv({ allErrors: true }).compile(schema);
    const value = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/),
      fc.constantFrom(...REFUND_REASONS, 'other'),
      fc.integer({ min: -10, max: MAX_AMOUNT_MINOR_UNITS + 10 }),
      fc.double(),
      fc.constant(null),
    );
    const body = fc.dictionary(fc.constantFrom('refundId', 'amount', 'reason', 'orderId', 'constructor'), value);
    fc.assert(
      fc.property(body, (input) => {
        expect(validateRefundRequest(input).ok).toBe(reference(input));
      }),
      { numRuns: 2_000 },
    );
  });
});
