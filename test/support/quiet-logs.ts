// The handlers log through Powertools as in Lambda; tests assert on behaviour, so keep their output readable.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
