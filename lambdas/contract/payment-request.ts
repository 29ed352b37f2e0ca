/**
 * The request contract of POST /payments, defined once: API Gateway validates bodies with this
 * schema as its request model, and the Lambda validates with the very same object.
 * It keeps to JSON Schema draft 4, the dialect API Gateway models speak.
 */
export const ORDER_ID_PATTERN = '^[A-Za-z0-9._:-]{1,255}$';
export const MAX_AMOUNT_MINOR_UNITS = 99_999_999;
/**
 * At most 100 characters are at most 400 bytes (UTF-8 takes up to 4 per character), so a charged
 * order's ledger item, about 520 bytes without a description (an orderId of 64 characters, an AWS
 * namespace), stays within 1 KB: one write unit per write, in the table and in each index
 * (test/integration/write-capacity.test.ts; `npm run bench` measures the units per order).
 */
export const DESCRIPTION_MAX_CHARACTERS = 100;
/** Bodies above this size get 413; a real payment request is a few hundred bytes. */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024;

export const chargeRequestSchema = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  title: 'ChargeRequest',
  type: 'object',
  additionalProperties: false,
  required: ['orderId', 'amount', 'currency'],
  properties: {
    orderId: { type: 'string', minLength: 1, maxLength: 255, pattern: ORDER_ID_PATTERN },
    amount: { type: 'integer', minimum: 1, maximum: MAX_AMOUNT_MINOR_UNITS },
    currency: { type: 'string', pattern: '^[A-Za-z]{3}$' },
    // Stripe object ids only, so a card number or an e-mail address sent by mistake is refused
    // before it is stored or logged: a PaymentMethod (`pm_…`, e.g. Stripe's test `pm_card_visa`), a Customer (`cus_…`).
    paymentMethod: { type: 'string', minLength: 1, maxLength: 255, pattern: '^pm_[A-Za-z0-9_]+$' },
    customerId: { type: 'string', minLength: 1, maxLength: 255, pattern: '^cus_[A-Za-z0-9]+$' },
    // Empty means none: Stripe refuses an empty description (parameter_invalid_empty), so it is left out.
    description: { type: 'string', maxLength: DESCRIPTION_MAX_CHARACTERS },
    // Where Stripe e-mails the receipt. Personal data: never in the ledger (request-fields.ts).
    // An address Stripe takes: printable ASCII before the @, and a dotted domain after it.
    receiptEmail: { type: 'string', minLength: 6, maxLength: 254, pattern: "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$" },
  },
} as const;

/** A request that passed validation. `currency` is normalised to lower case, as Stripe stores it. */
export interface ChargeRequest {
  orderId: string;
  amount: number;
  currency: string;
  paymentMethod?: string;
  customerId?: string;
  description?: string;
  receiptEmail?: string;
}

/**
 * The fields whose change under the same orderId means "another payment", not a retry.
 * Powertools hashes exactly these (payload validation), and the ledger compares them too.
 */
export const PAYMENT_IDENTITY_FIELDS = ['amount', 'currency', 'paymentMethod', 'customerId'] as const;
