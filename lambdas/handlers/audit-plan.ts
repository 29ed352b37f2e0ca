import { auditSliceSeconds } from '../contract/audit-workflow';
import { createAuditPlanHandler, deployedBudget } from './audit-ledger';

/** The audit workflow's PlanSlices step: slices sized by the deployed Stripe budget. */
export const handler = createAuditPlanHandler(auditSliceSeconds(deployedBudget()));
