import Stripe from 'stripe';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import type { DeadLetter } from '../../lambdas/adapters/dead-letter-queue';
import { createStripeEventHandling, createStripeEventVerifier } from '../../lambdas/adapters/stripe-webhooks';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { createChargeWorkerHandler } from '../../lambdas/handlers/charge-worker';
import { createStripeWebhookHandler } from '../../lambdas/handlers/stripe-webhook';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { freePort } from '../../local/free-port';
import { lambdaContext } from '../../local/lambda-context';
import { capturedLogger } from '../support/captured-logs';
import { type LocalParts, newOrderId, postEvent, serviceOptions, silentLogger, startLocalParts } from '../support/local-parts';
import { sqsRecord } from '../support/sqs-records';

/**
 * Every error path of the three handlers, driven with recognisable secrets and personal data; none
 * of them may reach the log output, whose every line Powertools would ship to CloudWatch.
 */
const WEBHOOK_SECRET = 'whsec_LEAKCHECKsigningsecret0123456789';
const WRONG_API_KEY = 'sk_test_LEAKCHECKwrongkey0123456789abcdef';
/** Personal data the request carries (it is sent to Stripe, and must never be logged). */
const RECEIPT_EMAIL = 'leak.check.receipt@example.com';
const CLIENT_SECRET = 'pi_3LeakCheck_secret_LEAKCHECKclientsecret';
const EMAIL = 'jane.leakcheck@example.com';
const LAST4 = '4271';
const DESCRIPTION = 'LEAKCHECK gift for jane';

/** A Stripe error as Stripe sends it for a PaymentIntent it will not confirm: it names the customer's payment method. */
const stripeErrorWithPaymentData = {
  type: 'invalid_request_error',
  code: 'payment_intent_unexpected_state',
  param: 'payment_method',
  message: `The payment method of ${EMAIL} cannot be used.`,
  payment_intent: { id: 'pi_3LeakCheck', object: 'payment_intent', client_secret: CLIENT_SECRET, status: 'requires_payment_method' },
  payment_method: {
    id: 'pm_leakcheck',
    object: 'payment_method',
    billing_details: { email: EMAIL, name: 'Jane Leakcheck' },
    card: { brand: 'visa', last4: LAST4, exp_month: 12, exp_year: 2030 },
  },
};

let parts: LocalParts;
beforeAll(async () => {
  parts = await startLocalParts();
});
afterAll(() => parts?.stop());
afterEach(() => parts.stripeEmulator.faults.clear());

function assertNothingSecret(output: string): void {
  const secrets = [
    WEBHOOK_SECRET,
    WRONG_API_KEY,
    parts.stripeEmulator.apiKey,
    CLIENT_SECRET,
    EMAIL,
    RECEIPT_EMAIL,
    DESCRIPTION,
    'last4',
    'billing_details',
    'client_secret',
    'clientSecret',
  ];
  for (const secret of secrets) expect({ secret, found: output.includes(secret) }).toEqual({ secret, found: false });
}

const order = (orderId: string, extra: Record<string, unknown> = {}) => ({
  orderId,
  amount: 4200,
  currency: 'eur',
  paymentMethod: 'pm_card_visa',
  description: DESCRIPTION,
  receiptEmail: RECEIPT_EMAIL,
  ...extra,
});

/** Stripe clients for the faults the emulator cannot make on its own. */
const stripeWith = (apiKey: string, options: Partial<Stripe.StripeConfig> = {}) =>
  new Stripe(apiKey, { host: '127.0.0.1', port: parts.stripeEmulator.port, protocol: 'http', ...options });

describe('POST /payments logs no secrets and no payment data', () => {
  it.each<[string, number, () => void]>([
    ['a Stripe 400 carrying the PaymentIntent and the payment method', 400, () => parts.stripeEmulator.faults.failNext(1, 400, stripeErrorWithPaymentData)],
    [
      'a Stripe 409 (its retries too) carrying the PaymentIntent',
      409,
      () => parts.stripeEmulator.faults.failNext(3, 409, { ...stripeErrorWithPaymentData, code: 'idempotency_key_in_use' }),
    ],
    [
      'Stripe 5xx (its retries too) carrying the PaymentIntent',
      502,
      () => parts.stripeEmulator.faults.failNext(3, 500, { ...stripeErrorWithPaymentData, type: 'api_error' }),
    ],
    ['a decline (402), whose error carries the PaymentIntent', 402, () => undefined],
    ['connections dropped', 502, () => parts.stripeEmulator.faults.dropNextRequests(3)],
  ])('%s', async (_case, status, arrange) => {
    const orderId = newOrderId('logs');
    arrange();
    const logs = capturedLogger();
    try {
      const handler = createChargePaymentHandler(createChargeService(serviceOptions(parts), 'api'), logs.logger);
      const paymentMethod = status === 402 ? 'pm_card_chargeDeclined' : 'pm_card_visa';
      const response = await handler(postEvent(order(orderId, { paymentMethod })), lambdaContext());
      expect(response.statusCode).toBe(status);
    } finally {
      logs.restore();
    }
    expect(logs.entries().length).toBeGreaterThan(0);
    assertNothingSecret(logs.output());
  });

  it.each<[string, () => Promise<Stripe>, number]>([
    ['a refused API key (401)', async () => stripeWith(WRONG_API_KEY), 502],
    [
      'a Stripe timeout',
      async () => {
        parts.stripeEmulator.faults.setLatency(300);
        return stripeWith(parts.stripeEmulator.apiKey, { timeout: 50, maxNetworkRetries: 0 });
      },
      502,
    ],
  ])('%s', async (_case, stripe, status) => {
    const logs = capturedLogger();
    try {
      const handler = createChargePaymentHandler(createChargeService({ ...serviceOptions(parts), stripe }, 'api'), logs.logger);
      expect((await handler(postEvent(order(newOrderId('logs'))), lambdaContext())).statusCode).toBe(status);
    } finally {
      logs.restore();
    }
    expect(logs.output()).toContain('"level":"ERROR"');
    assertNothingSecret(logs.output());
  });

  it('DynamoDB down (503)', async () => {
    const deadDynamoDb = localDynamoDbClient(`http://127.0.0.1:${await freePort()}`);
    const logs = capturedLogger();
    try {
      const handler = createChargePaymentHandler(createChargeService(serviceOptions(parts, deadDynamoDb), 'api'), logs.logger);
      expect((await handler(postEvent(order(newOrderId('logs'))), lambdaContext())).statusCode).toBe(503);
    } finally {
      logs.restore();
      deadDynamoDb.destroy();
    }
    expect(logs.output()).toContain('"level":"ERROR"');
    assertNothingSecret(logs.output());
  });

  it('a reused orderId (422) whose stored answer holds a client secret', async () => {
    const orderId = newOrderId('logs-422');
    const service = createChargeService(serviceOptions(parts), 'api');
    const first = await createChargePaymentHandler(service, silentLogger)(postEvent(order(orderId, { paymentMethod: undefined })), lambdaContext());
    const clientSecret = JSON.parse(first.body).clientSecret as string;
    expect(clientSecret).toMatch(/_secret_/);

    const logs = capturedLogger();
    try {
      const handler = createChargePaymentHandler(service, logs.logger);
      expect((await handler(postEvent(order(orderId, { paymentMethod: undefined, amount: 4300 })), lambdaContext())).statusCode).toBe(422);
    } finally {
      logs.restore();
    }
    expect(logs.output()).toContain('IdempotencyValidationError');
    expect(logs.output()).not.toContain(clientSecret);
    assertNothingSecret(logs.output());
  });
});

describe('the queue worker logs no secrets and no payment data', () => {
  const deadLetters: string[] = [];
  const deadLetter: DeadLetter = async (_message, failure) => void deadLetters.push(failure.code);

  it.each<[string, () => void, 'retried' | 'dead-lettered' | 'sent again']>([
    [
      'a Stripe 400 carrying the PaymentIntent and the payment method',
      () => parts.stripeEmulator.faults.failNext(1, 400, stripeErrorWithPaymentData),
      'dead-lettered',
    ],
    [
      'Stripe 5xx carrying the PaymentIntent',
      () => parts.stripeEmulator.faults.failNext(3, 500, { ...stripeErrorWithPaymentData, type: 'api_error' }),
      'retried',
    ],
    [
      'a Stripe 429 (rate limited) carrying the PaymentIntent',
      () => parts.stripeEmulator.faults.failNext(1, 429, { ...stripeErrorWithPaymentData, type: 'invalid_request_error', code: 'rate_limit' }),
      'sent again',
    ],
  ])('%s', async (_case, arrange, expected) => {
    arrange();
    const logs = capturedLogger();
    let failures: string[];
    try {
      const worker = createChargeWorkerHandler(
        { charge: createChargeService(serviceOptions(parts), 'queue'), deadLetter, retryLater: async () => 1, sendAgainLater: async () => 1 },
        logs.logger,
      );
      const response = await worker({ Records: [sqsRecord('m1', order(newOrderId('logs-worker')))] }, lambdaContext());
      failures = response.batchItemFailures.map((failure) => failure.itemIdentifier);
    } finally {
      logs.restore();
    }
    expect(failures).toEqual(expected === 'retried' ? ['m1'] : []);
    assertNothingSecret(logs.output());
  });

  it('a message with a field named after personal data', async () => {
    const logs = capturedLogger();
    try {
      const worker = createChargeWorkerHandler(
        { charge: createChargeService(serviceOptions(parts), 'queue'), deadLetter, retryLater: async () => 1, sendAgainLater: async () => 1 },
        logs.logger,
      );
      await worker({ Records: [sqsRecord('m1', { ...order(newOrderId('logs-worker')), [EMAIL]: 'x' })] }, lambdaContext());
    } finally {
      logs.restore();
    }
    expect(logs.output()).toContain('not allowed');
    assertNothingSecret(logs.output());
  });
});

describe('POST /webhooks/stripe logs no secrets and no payment data', () => {
  const signer = new Stripe('sk_test_signer');
  const event = {
    id: 'evt_leakcheck',
    object: 'event',
    type: 'payment_intent.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: 'pi_3LeakCheck',
        object: 'payment_intent',
        amount: 4200,
        currency: 'eur',
        status: 'succeeded',
        client_secret: CLIENT_SECRET,
        receipt_email: EMAIL,
        metadata: {},
      },
    },
  };
  const payload = JSON.stringify(event);

  it.each<[string, string | undefined, boolean, number]>([
    ['a signature made with another secret', signer.webhooks.generateTestHeaderString({ payload, secret: 'whsec_other' }), false, 400],
    ['no signature', undefined, false, 400],
    ['DynamoDB down while handling a signed event', signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }), true, 503],
  ])('%s', async (_case, signature, dynamoDbDown, status) => {
    const dynamoDb = dynamoDbDown ? localDynamoDbClient(`http://127.0.0.1:${await freePort()}`) : parts.dynamoDb;
    const logs = capturedLogger();
    try {
      const handler = createStripeWebhookHandler(
        createStripeEventVerifier(async () => WEBHOOK_SECRET),
        createStripeEventHandling(serviceOptions(parts, dynamoDb)),
        logs.logger,
      );
      const headers = signature === undefined ? {} : { 'Stripe-Signature': signature };
      const response = await handler({ ...postEvent(payload), path: '/webhooks/stripe', headers }, lambdaContext());
      expect(response.statusCode).toBe(status);
    } finally {
      logs.restore();
      if (dynamoDbDown) dynamoDb.destroy();
    }
    assertNothingSecret(logs.output());
  });
});
