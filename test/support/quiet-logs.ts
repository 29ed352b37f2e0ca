// The handlers log through Powertools as in Lambda; tests assert on behaviour, so keep their output readable.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// The pinned AWS SDK warns once per process that later releases need Node 22: known, and noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics would print an EMF line per call; tests that check metrics turn them on for themselves (captured-metrics.ts).
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// Every deployed function that counts has its deployment's namespace (the metrics' deployment dimension).
process.env.PAYMENTS_NAMESPACE ??= 'test';
