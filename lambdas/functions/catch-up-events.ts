// Every run lists Stripe's events: the Stripe SDK is loaded at init, with all else the function always needs.
import 'stripe';
import { serviceOptionsFromEnvironment } from '../adapters/charge-service';
import { createStripeEventHandling } from '../adapters/stripe-webhooks';
import { withTracing } from '../adapters/tracing';
import { createCatchUp, createCatchUpHandler } from '../handlers/catch-up-events';
import { ledgerChangeMetrics, serviceMetrics } from '../handlers/outcome-metrics';

const options = serviceOptionsFromEnvironment();
const metrics = serviceMetrics(options.namespace);

/** The scheduled Events API catch-up as deployed, built at init. */
export const handler = withTracing(
  createCatchUpHandler(createCatchUp(createStripeEventHandling(options, ledgerChangeMetrics(metrics)), options), undefined, metrics),
);
