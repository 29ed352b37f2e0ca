/**
 * The peer `npm run bench` measures the charge against: Powertools' own idempotency example made a
 * payment, and nothing more. An API Gateway handler parses the JSON body and calls a function made
 * idempotent on `orderId` in the key table, which creates and confirms one PaymentIntent (Stripe
 * idempotency key: the orderId) and returns it. No ledger, no validation, no logging or metrics.
 */
import { IdempotencyAlreadyInProgressError, IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import Stripe from 'stripe';
import { ENV } from '../lambdas/contract/environment';
import { STRIPE_MAX_NETWORK_RETRIES, STRIPE_TIMEOUT_MS } from '../lambdas/contract/settings';

interface PaymentRequest {
  orderId: string;
  amount: number;
  currency: string;
  paymentMethod: string;
}

export interface PeerOptions {
  /** The key table; Powertools' default attribute names (`id`, `expiration`) are the table's own. */
  tableName: string;
  stripe: () => Promise<Stripe>;
  /** Powertools creates its own client when none is given, as in Lambda. */
  dynamoDb?: DynamoDBClient;
}

export type PeerHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export function createPeerHandler({ tableName, stripe, dynamoDb }: PeerOptions): PeerHandler {
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'orderId' });
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName, ...(dynamoDb !== undefined && { awsSdkV3Client: dynamoDb }) });
  const createPayment = makeIdempotent(
    async ({ orderId, amount, currency, paymentMethod }: PaymentRequest) =>
      (await stripe()).paymentIntents.create(
        { amount, currency, payment_method: paymentMethod, confirm: true, automatic_payment_methods: { enabled: true, allow_redirects: 'never' } },
        { idempotencyKey: orderId },
      ),
    { persistenceStore, config },
  );
  return async (event, context) => {
    config.registerLambdaContext(context);
    try {
      return { statusCode: 200, body: JSON.stringify(await createPayment(JSON.parse(event.body ?? '{}') as PaymentRequest)) };
    } catch (error) {
      const statusCode = error instanceof IdempotencyAlreadyInProgressError ? 409 : 500;
      return { statusCode, body: JSON.stringify({ message: (error as Error).message }) };
    }
  };
}

let client: Stripe | undefined;

/** As deployed: the key from Secrets Manager, and the project's Stripe timeout and retries (not createStripeClient, which would bundle its tracing). */
export const handler = createPeerHandler({
  tableName: process.env[ENV.idempotencyTableName] ?? '',
  stripe: async () => {
    client ??= new Stripe((await getSecret(process.env[ENV.stripeSecretId] ?? '')) as string, {
      timeout: STRIPE_TIMEOUT_MS,
      maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
      telemetry: false,
    });
    return client;
  },
});
