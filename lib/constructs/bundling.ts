import { join } from 'node:path';

/**
 * How every function is bundled; the benchmark bundles with the same options to measure sizes.
 * The Lambda runtime provides the AWS SDK, and Stripe's ESM build ("module") bundles about 50 KB
 * smaller than its CommonJS one.
 */
export const FUNCTION_BUNDLING = {
  minify: true,
  target: 'node22',
  mainFields: ['module', 'main'],
  externalModules: ['@aws-sdk/*'],
} as const;

/** Each function's handler module, relative to the repository root. */
export const FUNCTION_ENTRIES = {
  chargePayment: 'lambdas/handlers/charge-payment.ts',
  chargeWorker: 'lambdas/handlers/charge-worker.ts',
  refundPayment: 'lambdas/handlers/refund-payment.ts',
  getPayment: 'lambdas/handlers/get-payment.ts',
  stripeWebhook: 'lambdas/handlers/stripe-webhook.ts',
  reconcilePending: 'lambdas/handlers/reconcile-pending.ts',
  auditPlan: 'lambdas/handlers/audit-plan.ts',
  auditLedger: 'lambdas/handlers/audit-ledger.ts',
  auditVerdict: 'lambdas/handlers/audit-verdict.ts',
  catchUpEvents: 'lambdas/handlers/catch-up-events.ts',
} as const;

export const entryPath = (name: keyof typeof FUNCTION_ENTRIES): string => join(__dirname, '..', '..', FUNCTION_ENTRIES[name]);
