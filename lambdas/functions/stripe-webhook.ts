import { serviceOptionsFromEnvironment } from '../adapters/charge-service';
import { requiredEnv, secretReader } from '../adapters/environment';
import { createStripeEventHandling, createStripeEventVerifier } from '../adapters/stripe-webhooks';
import { withTracing } from '../adapters/tracing';
import { ENV } from '../contract/environment';
import { ledgerChangeMetrics, serviceMetrics } from '../handlers/outcome-metrics';
import { createStripeWebhookHandler } from '../handlers/stripe-webhook';

const metrics = serviceMetrics();
const verify = createStripeEventVerifier(secretReader(requiredEnv(ENV.stripeWebhookSecretId)));
const handling = createStripeEventHandling(serviceOptionsFromEnvironment(), ledgerChangeMetrics(metrics));

/**
 * POST /webhooks/stripe as deployed, built at init. The signature is checked without the Stripe SDK,
 * which is loaded only to ask Stripe whose payment a Dashboard refund or a dispute is.
 */
export const handler = withTracing(createStripeWebhookHandler(verify, handling, undefined, metrics));
