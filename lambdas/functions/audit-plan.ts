import { auditSliceSeconds } from '../contract/audit-workflow';
import { createAuditPlanHandler, deployedBudget } from '../handlers/audit-plan';

/** The audit workflow's PlanSlices step as deployed: slices sized by the deployed Stripe budget. */
export const handler = createAuditPlanHandler(auditSliceSeconds(deployedBudget()));
