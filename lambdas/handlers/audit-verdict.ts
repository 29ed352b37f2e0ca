import { createAuditVerdictHandler } from './audit-ledger';

/** The audit workflow's Verdict step: one metric, one log line and the report for the whole run. */
export const handler = createAuditVerdictHandler();
