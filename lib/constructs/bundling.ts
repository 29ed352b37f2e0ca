import { join } from 'node:path';

/**
 * How every function is bundled; the benchmark bundles with the same options to measure sizes.
 * The Lambda runtime provides the AWS SDK, and Stripe's ESM build (its exports' `import` condition,
 * which the dynamic import in stripe-payments.ts takes) bundles about 50 KB smaller than its
 * CommonJS one.
 */
export const FUNCTION_BUNDLING = {
  minify: true,
  target: 'node22',
  mainFields: ['module', 'main'],
  externalModules: ['@aws-sdk/*'],
} as const;

/** FUNCTION_BUNDLING as esbuild's own options, for what bundles a function outside the CDK (the benchmark, the bundle test). */
export function esbuildOptionsOf(entry: string, outfile: string) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node' as const,
    format: 'cjs' as const,
    minify: FUNCTION_BUNDLING.minify,
    target: FUNCTION_BUNDLING.target,
    mainFields: [...FUNCTION_BUNDLING.mainFields],
    external: [...FUNCTION_BUNDLING.externalModules],
  };
}

/**
 * Each function's entry, relative to the repository root: its composition root, which builds the
 * handler at init from the environment (the factories in lambdas/handlers/ stay free of it).
 */
export const FUNCTION_ENTRIES = {
  chargePayment: 'lambdas/functions/charge-payment.ts',
  chargeWorker: 'lambdas/functions/charge-worker.ts',
  refundPayment: 'lambdas/functions/refund-payment.ts',
  getPayment: 'lambdas/functions/get-payment.ts',
  stripeWebhook: 'lambdas/functions/stripe-webhook.ts',
  reconcilePending: 'lambdas/functions/reconcile-pending.ts',
  auditPlan: 'lambdas/functions/audit-plan.ts',
  auditLedger: 'lambdas/functions/audit-ledger.ts',
  auditVerdict: 'lambdas/functions/audit-verdict.ts',
  catchUpEvents: 'lambdas/functions/catch-up-events.ts',
} as const;

export const entryPath = (name: keyof typeof FUNCTION_ENTRIES): string => join(__dirname, '..', '..', FUNCTION_ENTRIES[name]);
