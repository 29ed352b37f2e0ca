import { refundServiceFromEnvironment } from '../adapters/charge-service';
import { withTracing } from '../adapters/tracing';
import { createRefundPaymentHandler } from '../handlers/refund-payment';

/** POST /payments/{orderId}/refunds as deployed, built at init; the Stripe SDK is loaded by the first refund that calls Stripe. */
export const handler = withTracing(createRefundPaymentHandler(refundServiceFromEnvironment()));
