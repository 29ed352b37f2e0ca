import fc from 'fast-check';
import { PAYMENT_METADATA } from '../../lambdas/contract/payment-metadata';
import { type ChargeRequest, chargeRequestSchema } from '../../lambdas/contract/payment-request';
import { refundRequestSchema } from '../../lambdas/contract/refund-request';
import {
  chargeRequestFields,
  type FieldUse,
  PERSONAL_FIELDS,
  REQUEST_FIELD_OF_STRIPE_PARAMETER,
  refundRequestFields,
} from '../../lambdas/contract/request-fields';
import { type LedgerRecord, pendingRecordOf } from '../../lambdas/core/charge-order';
import { paymentIntentCreateOf, personalDataOf, refundCreateOf } from '../../lambdas/core/stripe-requests';
import { fullOrder } from '../support/orders';

const origin = { channel: 'api', namespace: 'shop-prod' } as const;
const NOW = '2026-12-05T12:00:00.000Z';
/** What the service adds to every PaymentIntent create, whatever the request: no request field is behind these. */
const FIXED_PAYMENT_PARAMETERS = [
  'confirm',
  'automatic_payment_methods.enabled',
  'automatic_payment_methods.allow_redirects',
  'metadata.createdBy',
  'metadata.namespace',
];
const FIXED_REFUND_PARAMETERS = ['payment_intent', 'metadata.orderId', 'metadata.createdBy', 'metadata.namespace'];

/** Every parameter of a create, as `a.b` paths to its leaves. */
const leaves = (value: object, prefix = ''): string[] =>
  Object.entries(value).flatMap(([key, inner]) => (typeof inner === 'object' && inner !== null ? leaves(inner, `${prefix}${key}.`) : [`${prefix}${key}`]));
const at = (value: object, path: string): unknown => path.split('.').reduce<unknown>((inner, key) => (inner as Record<string, unknown>)?.[key], value);
const sentAs = (use: FieldUse) => ('sentToStripeAs' in use ? use.sentToStripeAs : undefined);

describe.each([
  ['ChargeRequest', chargeRequestSchema.properties, chargeRequestFields as Record<string, FieldUse>],
  ['RefundRequest', refundRequestSchema.properties, refundRequestFields as Record<string, FieldUse>],
])('every field of %s', (name, properties, fields) => {
  it('is classified as sent to Stripe (and stored) or not sent', () => {
    const unclassified = Object.keys(properties)
      .filter((field) => fields[field] === undefined)
      .map(
        (field) =>
          `${name}.${field} is not classified: add it to lambdas/contract/request-fields.ts as sent to Stripe (then store it in the ledger record and send it from there) or not sent (docs/customizing.md, "Add a request field").`,
      );
    const gone = Object.keys(fields)
      .filter((field) => !(field in properties))
      .map((field) => `${name}.${field} is classified but not in the schema: remove it from lambdas/contract/request-fields.ts.`);
    expect([...unclassified, ...gone]).toEqual([]);
  });
});

/** Stripe parameters that carry a person's data: only a field classified personal may be sent as one. */
const PERSONAL_STRIPE_PARAMETERS = /^(receipt_email|shipping|billing_details)\b/;
/** Field names that say "personal data": such a field must be classified personal. */
const PERSONAL_FIELD_NAME = /e-?mail|name|phone|address|birth/i;

describe('personal data in a request', () => {
  it('is classified personal, so that the ledger never keeps it (docs/customizing.md, "Personal data")', () => {
    const problems = [...Object.entries(chargeRequestFields), ...Object.entries(refundRequestFields)].flatMap(([field, use]) => {
      if ('personal' in use) return [];
      const sentAs = 'sentToStripeAs' in use ? use.sentToStripeAs : '';
      if (PERSONAL_FIELD_NAME.test(field) || PERSONAL_STRIPE_PARAMETERS.test(sentAs)) {
        return [
          `${field} looks like personal data: classify it { personal: true, sentToStripeAs } in lambdas/contract/request-fields.ts, keep it out of pendingRecordOf, and send it from the kept personal data.`,
        ];
      }
      return [];
    });
    expect(problems).toEqual([]);
    expect(PERSONAL_FIELDS).toEqual(['receiptEmail']);
  });
});

describe('the PaymentIntent create, built from the stored record alone', () => {
  const order = fullOrder('order-42');
  const record = pendingRecordOf(order, origin, NOW);
  const create = paymentIntentCreateOf(record, personalDataOf(order));

  it('carries every field classified as sent: from the stored record, and personal data from the key table', () => {
    const missing = Object.entries(chargeRequestFields).flatMap(([field, use]) => {
      const path = sentAs(use);
      const value = order[field as keyof ChargeRequest];
      if (path === undefined) return [];
      if ('personal' in use) {
        return at(create.params, path) === value
          ? []
          : [
              `${field} is personal data sent to Stripe as ${path}, but paymentIntentCreateOf (lambdas/core/stripe-requests.ts) does not send it from the personal data the key table keeps.`,
            ];
      }
      return at(paymentIntentCreateOf(record).params, path) === value
        ? []
        : [
            `${field} is classified as sent to Stripe as ${path}, but the create built from the stored record does not carry it: store it in pendingRecordOf (lambdas/core/charge-order.ts) and send it in paymentIntentCreateOf (lambdas/core/stripe-requests.ts).`,
          ];
    });
    expect(missing).toEqual([]);
  });

  it('keeps personal data out of the ledger record, which is kept for ever', () => {
    const stored = JSON.stringify(record);
    const leaked = PERSONAL_FIELDS.filter((field) => stored.includes(String(order[field]))).map(
      (field) => `${field} is personal data, yet pendingRecordOf stores it in the ledger: leave it to the key table (docs/customizing.md, "Personal data").`,
    );
    expect(leaked).toEqual([]);
    expect(record.personalDataKept).toBe(true);
  });

  it('sends nothing that is neither a classified field nor one of the fixed parameters', () => {
    const classified = Object.values(chargeRequestFields).flatMap((use) => sentAs(use) ?? []);
    const unexplained = leaves(create.params).filter((path) => !classified.includes(path) && !FIXED_PAYMENT_PARAMETERS.includes(path));
    expect(unexplained).toEqual([]);
  });

  it('sends exactly these parameters, keyed on the namespace and the orderId', () => {
    expect(create).toEqual({
      orderId: 'order-42',
      namespace: 'shop-prod',
      idempotencyKey: 'shop-prod:order-42',
      params: {
        amount: order.amount,
        currency: order.currency,
        customer: order.customerId,
        description: order.description,
        payment_method: order.paymentMethod,
        receipt_email: order.receiptEmail,
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        metadata: {
          [PAYMENT_METADATA.orderId]: 'order-42',
          [PAYMENT_METADATA.marker]: PAYMENT_METADATA.markerValue,
          [PAYMENT_METADATA.namespace]: 'shop-prod',
        },
      },
    });
  });

  it('never confirms server-side where Stripe could redirect without a return_url', () => {
    const confirmed = paymentIntentCreateOf(pendingRecordOf(order, origin, NOW)).params as unknown as { confirm: boolean; return_url?: string };
    const redirects = at(confirmed, 'automatic_payment_methods.allow_redirects') !== 'never';
    const problems =
      confirmed.confirm && redirects && confirmed.return_url === undefined
        ? [
            'The create confirms on the server with redirects allowed and no return_url: Stripe refuses every such charge. Keep automatic_payment_methods.allow_redirects "never", or send a return_url (docs/customizing.md, "Change the Stripe parameters").',
          ]
        : [];
    expect(problems).toEqual([]);
  });

  it('is the same for the first attempt and for a resume with another description, whatever the order (property)', () => {
    const orders = fc.record<Required<ChargeRequest>>({
      orderId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
      amount: fc.integer({ min: 1, max: 99_999_999 }),
      currency: fc.constantFrom('eur', 'usd', 'jpy'),
      paymentMethod: fc.stringMatching(/^pm_[A-Za-z0-9_]{1,20}$/),
      customerId: fc.stringMatching(/^cus_[A-Za-z0-9]{1,20}$/),
      description: fc.string({ minLength: 1, maxLength: 1000, unit: 'grapheme' }),
      receiptEmail: fc.emailAddress(),
    });
    fc.assert(
      fc.property(orders, fc.string(), (first, retryDescription) => {
        const stored = pendingRecordOf(first, origin, NOW);
        // What DynamoDB gives back (plain JSON), and the retry's own request, which must not matter.
        const readBack = JSON.parse(JSON.stringify(stored)) as LedgerRecord;
        const resumed = paymentIntentCreateOf(readBack);
        expect(resumed).toEqual(paymentIntentCreateOf(stored));
        expect(paymentIntentCreateOf(pendingRecordOf({ ...first, description: retryDescription }, origin, NOW)).idempotencyKey).toBe(resumed.idempotencyKey);
      }),
    );
  });
});

describe('the refund create, built from the stored refund entry alone', () => {
  const record: LedgerRecord = {
    ...pendingRecordOf(fullOrder('order-7'), origin, NOW),
    status: 'charged',
    paymentId: 'pi_7',
    refunds: { 'refund-1': { amount: 1_000, requestedAmount: 1_000, reason: 'duplicate', status: 'requested', attempt: 'a', createdAt: NOW, updatedAt: NOW } },
  };
  const create = refundCreateOf(record, 'refund-1');
  const request = { refundId: 'refund-1', amount: 1_000, reason: 'duplicate' };

  it('carries every field classified as sent', () => {
    const missing = Object.entries(refundRequestFields).flatMap(([field, use]) => {
      const path = sentAs(use);
      if (path === undefined || at(create.params, path) === request[field as keyof typeof request]) return [];
      return [
        `${field} is classified as sent to Stripe as ${path}, but refundCreateOf (lambdas/core/stripe-requests.ts) does not send it from the stored refund entry.`,
      ];
    });
    expect(missing).toEqual([]);
  });

  it('sends nothing else but the PaymentIntent and its own marks', () => {
    const classified = Object.values(refundRequestFields).flatMap((use) => sentAs(use) ?? []);
    expect(leaves(create.params).filter((path) => !classified.includes(path) && !FIXED_REFUND_PARAMETERS.includes(path))).toEqual([]);
    expect(create.idempotencyKey).toBe('shop-prod:order-7#refund:refund-1');
  });
});

describe("Stripe's parameter names, as the request fields behind them", () => {
  it('name the field a Stripe error is about, in the form Stripe writes the parameter', () => {
    expect(REQUEST_FIELD_OF_STRIPE_PARAMETER).toEqual({
      'metadata[orderId]': 'orderId',
      amount: 'amount',
      currency: 'currency',
      payment_method: 'paymentMethod',
      customer: 'customerId',
      description: 'description',
      receipt_email: 'receiptEmail',
    });
  });
});
