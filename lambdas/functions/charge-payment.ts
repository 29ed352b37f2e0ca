import { chargeServiceFromEnvironment } from '../adapters/charge-service';
import { withTracing } from '../adapters/tracing';
import { createChargePaymentHandler } from '../handlers/charge-payment';
import { serviceMetrics } from '../handlers/outcome-metrics';

const metrics = serviceMetrics();

/** POST /payments as deployed, built at init; the Stripe SDK is loaded by the first charge that calls Stripe. */
export const handler = withTracing(createChargePaymentHandler(chargeServiceFromEnvironment('api', metrics), undefined, metrics));
