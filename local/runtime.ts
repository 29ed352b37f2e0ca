import { createChargeService } from '../lambdas/adapters/charge-service';
import { createStripeClient } from '../lambdas/adapters/stripe-payments';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../lambdas/contract/settings';
import { createChargePaymentHandler } from '../lambdas/handlers/charge-payment';
import { startLocalApi } from './api-server';
import { localDynamoDbClient, startDynamoDbLocal } from './dynamodb-local';
import { startStripeEmulator, type StripeEmulator } from './stripe-emulator/stripe-emulator';
import { createTables, localTableNames } from './tables';

/** The variables of DESIGN.md's local runtime contract. */
export interface LocalRuntimeSettings {
  port: number;
  dynamoDbEndpoint?: string;
  stripeSecretKey?: string;
  stripeApiBase?: string;
}

export interface LocalRuntime {
  url: string;
  dynamoDbEndpoint: string;
  /** Present when the embedded Stripe emulator is used. */
  stripeEmulator?: StripeEmulator;
  stop(): Promise<void>;
}

export function settingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): LocalRuntimeSettings {
  return {
    port: env.PORT === undefined ? 3000 : Number(env.PORT),
    dynamoDbEndpoint: env.DYNAMODB_ENDPOINT || undefined,
    stripeSecretKey: env.STRIPE_SECRET_KEY || undefined,
    stripeApiBase: env.STRIPE_API_BASE || undefined,
  };
}

/**
 * Starts everything `npm start` runs: DynamoDB Local (unless an endpoint is given) with the stack's
 * tables, the Stripe emulator (unless a key is given), and the local API around the same handler the
 * Lambda runs. Whatever started is stopped again if a later step fails, and by `stop()`.
 */
export async function startLocalRuntime(settings: LocalRuntimeSettings): Promise<LocalRuntime> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopPart of stops.splice(0).reverse()) await stopPart().catch(() => undefined);
  };
  try {
    let dynamoDbEndpoint = settings.dynamoDbEndpoint;
    if (dynamoDbEndpoint === undefined) {
      const dynamoDb = await startDynamoDbLocal();
      stops.push(dynamoDb.stop);
      dynamoDbEndpoint = dynamoDb.endpoint;
    }
    const dynamoDbClient = localDynamoDbClient(dynamoDbEndpoint);
    stops.push(async () => dynamoDbClient.destroy());
    const tableNames = localTableNames();
    await createTables(dynamoDbClient, tableNames);

    let stripeEmulator: StripeEmulator | undefined;
    let stripeKey = settings.stripeSecretKey;
    let stripeApiBase = settings.stripeApiBase;
    if (stripeKey === undefined) {
      stripeEmulator = await startStripeEmulator();
      stops.push(stripeEmulator.stop);
      stripeKey = stripeEmulator.apiKey;
      stripeApiBase = stripeEmulator.url;
    }
    const stripe = createStripeClient(stripeKey, stripeApiBase);

    const charge = createChargeService({ dynamoDb: dynamoDbClient, ...tableNames, stripe: async () => stripe });
    const api = await startLocalApi({
      port: settings.port,
      handlers: { chargePayment: createChargePaymentHandler(charge) },
      timeoutSeconds: CHARGE_FUNCTION_TIMEOUT_SECONDS,
    });
    stops.push(api.stop);
    return { url: api.url, dynamoDbEndpoint, stripeEmulator, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
