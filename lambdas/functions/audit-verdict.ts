import { createAuditVerdictHandler } from '../handlers/audit-verdict';

/** The audit workflow's Verdict step as deployed: one metric, one log line and the report for the whole run. */
export const handler = createAuditVerdictHandler();
