import { Logger } from '@aws-lambda-powertools/logger';
import { lambdaDynamoDbClient, requiredEnv, secretReader } from '../adapters/environment';
import { stripeFromSecret } from '../adapters/charge-service';
import { createStripeEventHandling, createStripeEventVerifier, type HandleStripeEvent, type VerifyStripeEvent } from '../adapters/stripe-webhooks';
import { ENV, SERVICE_NAME } from '../contract/environment';
import { errorResponse, failureResponse, rawBodyOf, type ApiHandler } from './http-responses';

/**
 * POST /webhooks/stripe: verify the signature on the raw body, apply the event once, answer 200.
 * Stripe redelivers anything not answered 2xx, so "in progress" and store failures answer non-2xx.
 */
export function createStripeWebhookHandler(
  verify: VerifyStripeEvent,
  handleEvent: HandleStripeEvent,
  logger = new Logger({ serviceName: SERVICE_NAME }),
): ApiHandler {
  return async (event, context) => {
    logger.addContext(context);
    const rawBody = rawBodyOf(event) ?? '';
    const signature = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === 'stripe-signature')?.[1];
    if (!signature) return errorResponse(400, 'invalid_signature', 'the Stripe-Signature header is missing');

    let stripeEvent;
    try {
      stripeEvent = await verify(rawBody, signature);
    } catch (error) {
      if (error instanceof Error && error.name === 'InvalidSignatureError') {
        logger.warn('webhook signature rejected', { reason: error.message });
        return errorResponse(400, 'invalid_signature', 'the Stripe-Signature header does not match this body');
      }
      logger.error('webhook verification failed', { error });
      return failureResponse(error);
    }

    try {
      const outcome = await handleEvent(stripeEvent, context);
      // A conflict is answered 200 (redelivering cannot help) but needs a person: the order's payment differs.
      const log = outcome === 'conflict' ? logger.error.bind(logger) : logger.info.bind(logger);
      log('webhook handled', { eventId: stripeEvent.id, type: stripeEvent.type, outcome });
      return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ received: true, outcome }) };
    } catch (error) {
      const response = failureResponse(error);
      logger.warn('webhook not handled; Stripe will deliver it again', { eventId: stripeEvent.id, statusCode: response.statusCode, error });
      return response;
    }
  };
}

let deployedHandler: ApiHandler | undefined;

export const handler: ApiHandler = (event, context) => {
  deployedHandler ??= (() => {
    const stripe = stripeFromSecret(requiredEnv(ENV.stripeSecretId));
    const signingSecret = secretReader(requiredEnv(ENV.stripeWebhookSecretId));
    const dynamoDb = lambdaDynamoDbClient();
    return createStripeWebhookHandler(
      createStripeEventVerifier(signingSecret),
      createStripeEventHandling({
        dynamoDb,
        idempotencyTableName: requiredEnv(ENV.idempotencyTableName),
        ledgerTableName: requiredEnv(ENV.ledgerTableName),
        stripe,
      }),
    );
  })();
  return deployedHandler(event, context);
};
