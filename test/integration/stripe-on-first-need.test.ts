import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { ChargeServiceOptions } from '../../lambdas/adapters/charge-service';
import { HTTP_HEADERS } from '../../lambdas/contract/http-headers';
import { lambdaContext } from '../../local/lambda-context';
import { chargeHandler, type LocalParts, newOrderId, post, silentLogger, startLocalParts, TEST_NAMESPACE } from '../support/local-parts';

let parts: LocalParts;
beforeAll(async () => {
  parts = await startLocalParts();
});
afterAll(() => parts?.stop());

interface ColdModules {
  chargeService: typeof import('../../lambdas/adapters/charge-service');
  ledger: typeof import('../../lambdas/adapters/dynamodb-ledger');
  stripePayments: typeof import('../../lambdas/adapters/stripe-payments');
  webhooks: typeof import('../../lambdas/adapters/stripe-webhooks');
  chargePayment: typeof import('../../lambdas/handlers/charge-payment');
  getPayment: typeof import('../../lambdas/handlers/get-payment');
  stripeWebhook: typeof import('../../lambdas/handlers/stripe-webhook');
}

/** The functions' modules loaded afresh, as a cold start loads them, with each load of the Stripe SDK counted from now on. */
function coldModules(): { modules: ColdModules; loads: { sdk: number } } {
  const loads = { sdk: 0 };
  let modules: ColdModules | undefined;
  jest.isolateModules(() => {
    jest.doMock('stripe', () => {
      loads.sdk += 1;
      return jest.requireActual('stripe');
    });
    modules = {
      chargeService: require('../../lambdas/adapters/charge-service'),
      ledger: require('../../lambdas/adapters/dynamodb-ledger'),
      stripePayments: require('../../lambdas/adapters/stripe-payments'),
      webhooks: require('../../lambdas/adapters/stripe-webhooks'),
      chargePayment: require('../../lambdas/handlers/charge-payment'),
      getPayment: require('../../lambdas/handlers/get-payment'),
      stripeWebhook: require('../../lambdas/handlers/stripe-webhook'),
    };
  });
  if (modules === undefined) throw new Error('the modules did not load');
  return { modules, loads };
}

const apiEvent = (fields: Partial<APIGatewayProxyEvent>) => ({ headers: {}, isBase64Encoded: false, ...fields }) as APIGatewayProxyEvent;

describe('the Stripe SDK, its client and its API key, only when a request calls Stripe', () => {
  it('a replay, a GET and a webhook that fails its signature never load the SDK, ask for the client or read the key; a first charge does all three', async () => {
    const order = { orderId: newOrderId('replayed'), amount: 1500, currency: 'eur', paymentMethod: 'pm_card_visa' };
    // Charged in another execution environment: the key table holds the answer.
    expect((await post(chargeHandler(parts), order)).statusCode).toBe(201);

    const { modules, loads } = coldModules();
    const calls = { apiKeyReads: 0, clientAsks: 0, signingSecretReads: 0 };
    const client = modules.stripePayments.stripeClientOnFirstNeed(async () => {
      calls.apiKeyReads += 1;
      return parts.stripeEmulator.apiKey;
    }, parts.stripeEmulator.url);
    const options: ChargeServiceOptions = {
      dynamoDb: parts.dynamoDb,
      ...parts.tables,
      namespace: TEST_NAMESPACE,
      stripe: () => {
        calls.clientAsks += 1;
        return client();
      },
    };
    const charge = modules.chargePayment.createChargePaymentHandler(modules.chargeService.createChargeService(options, 'api'), silentLogger);
    const getPayment = modules.getPayment.createGetPaymentHandler(
      modules.ledger.createLedgerReader(parts.dynamoDb, parts.tables.ledgerTableName),
      silentLogger,
    );
    const webhook = modules.stripeWebhook.createStripeWebhookHandler(
      modules.webhooks.createStripeEventVerifier(async () => {
        calls.signingSecretReads += 1;
        return 'whsec_first_need';
      }),
      modules.webhooks.createStripeEventHandling(options),
      silentLogger,
    );

    const replay = await post(charge, order);
    const read = await getPayment(apiEvent({ httpMethod: 'GET', pathParameters: { orderId: order.orderId } }), lambdaContext());
    const forged = apiEvent({
      httpMethod: 'POST',
      headers: { [HTTP_HEADERS.stripeSignature]: `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` },
      body: JSON.stringify({ id: 'evt_forged', object: 'event', type: 'payment_intent.succeeded', data: { object: {} } }),
    });
    const rejected = await webhook(forged, lambdaContext());
    expect([replay.statusCode, replay.headers?.[HTTP_HEADERS.idempotentReplayed], read.statusCode, rejected.statusCode]).toEqual([200, 'true', 200, 400]);
    expect({ ...calls, sdkLoads: loads.sdk }).toEqual({ apiKeyReads: 0, clientAsks: 0, signingSecretReads: 1, sdkLoads: 0 });

    // The same counters see a first charge: it reads the key, makes the client and loads the SDK, once.
    const first = await post(charge, { ...order, orderId: newOrderId('first') });
    expect(first.statusCode).toBe(201);
    expect({ ...calls, sdkLoads: loads.sdk }).toEqual({ apiKeyReads: 1, clientAsks: 1, signingSecretReads: 1, sdkLoads: 1 });
  });
});
