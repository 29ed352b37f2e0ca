import { listedPerSlice, MAX_AUDIT_SLICES } from '../contract/audit-workflow';
import { ENV } from '../contract/environment';
import { AUDIT_DEFAULT_WINDOW } from '../contract/settings';
import { stripeBudgetOf, stripeRequestsPerSecondFrom } from '../contract/stripe-budget';
import { sliceStarts, windowStart } from '../core/audit';

/**
 * What a run compares: the orders created from `since` ago until `settledFor` ago (`24h`, `30m`, …;
 * default the last day, until now). The daily schedule leaves out the last half hour, which the
 * reconciler may still be settling, and overlaps the day before by an hour (DAILY_AUDIT_WINDOW).
 */
export interface AuditRequest {
  since?: string;
  settledFor?: string;
}

/** The window cut into slices (their starts), and how many differences each slice lists. */
export interface AuditPlan {
  since: string;
  until: string;
  sliceSeconds: number;
  slices: string[];
  listAtMost: number;
}

/** The workflow's first step: cuts the window into slices of `sliceSeconds` (whole seconds: auditSliceSeconds of the budget). */
export function createAuditPlanHandler(sliceSeconds: number, now: () => Date = () => new Date()) {
  return async (event: AuditRequest | undefined): Promise<AuditPlan> => {
    // Whole seconds, as Stripe's `created` is: a slice's edge then splits no second between two slices.
    const until = new Date(Math.floor(windowStart(event?.settledFor ?? '0m', now()).getTime() / 1000) * 1000);
    const since = windowStart(event?.since ?? AUDIT_DEFAULT_WINDOW, until);
    const slices = sliceStarts(since, until, sliceSeconds, MAX_AUDIT_SLICES);
    return { since: since.toISOString(), until: until.toISOString(), sliceSeconds, slices, listAtMost: listedPerSlice(slices.length) };
  };
}

/** The budget the functions were deployed with (STRIPE_REQUESTS_PER_SECOND). */
export const deployedBudget = () => stripeBudgetOf(stripeRequestsPerSecondFrom(process.env[ENV.stripeRequestsPerSecond]));
