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

/** Budget per function bundle (DESIGN.md), in bytes. */
export const BUNDLE_BUDGET_BYTES = 300 * 1024;
