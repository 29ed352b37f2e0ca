/**
 * The audit as a workflow, defined once for the CDK stack (lib/constructs/ledger-audit.ts) and the
 * local runtime (local/audit-state-machine.ts): plan the window's time slices, compare them side by
 * side (a Map whose MaxConcurrency is the audit's share of the Stripe budget), and give one verdict.
 */
import type { StripeBudget } from './stripe-budget';

/** A slice's function may run this long (Lambda's most); its Stripe listing gets two thirds of it. */
export const AUDIT_SLICE_TIMEOUT_SECONDS = 15 * 60;
/** The plan and the verdict take a second or so. */
export const AUDIT_STEP_TIMEOUT_SECONDS = 30;
/** A Task waits this much longer than its function may run (the invocation itself), rather than the States Language's default of 60 s. */
const TASK_TIMEOUT_MARGIN_SECONDS = 60;
const SLICE_LISTING_SECONDS = 10 * 60;
const PAYMENTS_PER_PAGE = 100;
/** A slice holds its ledger records in memory: at ~1.5 KB each in the heap, 120 k is ~180 MB of the function's 512 MB. */
const MAX_RECORDS_PER_SLICE = 120_000;
const MIN_SLICE_SECONDS = 60;
const MAX_SLICE_SECONDS = 60 * 60;
/**
 * An inline Map writes ~7 history events per item: 1,500 slices are ~10,500 of a Standard
 * execution's 25,000, and their start times (~27 bytes each) ~40 KB of its 256 KB payloads.
 */
export const MAX_AUDIT_SLICES = 1_500;
/**
 * The differences the slices list for the verdict, all together, in bytes (~300 each). The Map's
 * output holds them beside the slices' starts (~40 KB at most) and totals (~120 KB): under 256 KB.
 */
const LISTED_DISCREPANCY_BYTES = 60_000;
const DISCREPANCY_BYTES = 300;

/** The listing pages per second each slice may read: the audit's share spread over the slices compared at once. */
export function auditPagesPerSecondPerSlice(budget: StripeBudget): number {
  return budget.audit.requestsPerSecond / budget.audit.maxConcurrency;
}

/**
 * How long a slice is: as many orders as the budget can charge that the slice's paced listing reads
 * in SLICE_LISTING_SECONDS and its memory holds, in whole seconds from 1 minute to 1 hour. E.g. the
 * default 25 requests/s charge 17.5 orders/s; a slice lists 1.25 pages/s × 100 × 600 s = 75,000
 * PaymentIntents, 4,285 s of orders: an hour (63,000 orders at most). 1,430 requests/s (1,001
 * orders/s) list 2.04 pages/s per slice (35 at once): 122,000 PaymentIntents, capped at 120,000
 * records: 119 s, so the daily 49 h are 1,483 slices, within MAX_AUDIT_SLICES.
 */
export function auditSliceSeconds(budget: StripeBudget): number {
  const listable = auditPagesPerSecondPerSlice(budget) * PAYMENTS_PER_PAGE * SLICE_LISTING_SECONDS;
  const seconds = Math.floor(Math.min(listable, MAX_RECORDS_PER_SLICE) / budget.ordersPerSecond);
  return Math.min(MAX_SLICE_SECONDS, Math.max(MIN_SLICE_SECONDS, seconds));
}

/** How many differences each slice lists for the verdict when there are `slices`; it logs every one. */
export function listedPerSlice(slices: number): number {
  return Math.floor(LISTED_DISCREPANCY_BYTES / DISCREPANCY_BYTES / Math.max(1, slices));
}

/** The Task states, by the names the local runtime binds its handlers to. */
export const AUDIT_TASKS = { plan: 'PlanSlices', compare: 'CompareSlice', verdict: 'Verdict' } as const;
export type AuditTask = keyof typeof AUDIT_TASKS;

/** Lambda's own transient failures, retried as AWS recommends for a Task that invokes a function. */
const LAMBDA_TRANSIENT_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];
const retryTransient = { ErrorEquals: LAMBDA_TRANSIENT_ERRORS, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 };

/**
 * The state machine in Amazon States Language. `resources` are the Task resources (function ARNs in
 * AWS, any ARN locally, where each Task is bound to its handler by name); `maxConcurrency` is
 * `budget.audit.maxConcurrency`.
 */
export function auditWorkflowDefinition(resources: Record<AuditTask, string>, maxConcurrency: number) {
  const stepTimeout = AUDIT_STEP_TIMEOUT_SECONDS + TASK_TIMEOUT_MARGIN_SECONDS;
  return {
    Comment: "Compares this deployment's PaymentIntents at Stripe with the ledger, one time slice at a time (reads only)",
    StartAt: AUDIT_TASKS.plan,
    States: {
      [AUDIT_TASKS.plan]: { Type: 'Task', Resource: resources.plan, TimeoutSeconds: stepTimeout, Retry: [retryTransient], Next: 'CompareSlices' },
      CompareSlices: {
        Type: 'Map',
        ItemsPath: '$.slices',
        ItemSelector: { 'since.$': '$$.Map.Item.Value', 'until.$': '$.until', 'sliceSeconds.$': '$.sliceSeconds', 'listAtMost.$': '$.listAtMost' },
        MaxConcurrency: maxConcurrency,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: AUDIT_TASKS.compare,
          States: {
            [AUDIT_TASKS.compare]: {
              Type: 'Task',
              Resource: resources.compare,
              TimeoutSeconds: AUDIT_SLICE_TIMEOUT_SECONDS + TASK_TIMEOUT_MARGIN_SECONDS,
              // A slice only reads, so comparing it again after Stripe or DynamoDB failed is safe.
              Retry: [retryTransient, { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 30, MaxAttempts: 2, BackoffRate: 2 }],
              End: true,
            },
          },
        },
        ResultPath: '$.reports',
        Next: AUDIT_TASKS.verdict,
      },
      [AUDIT_TASKS.verdict]: {
        Type: 'Task',
        Resource: resources.verdict,
        TimeoutSeconds: stepTimeout,
        Parameters: { 'since.$': '$.since', 'until.$': '$.until', 'reports.$': '$.reports' },
        Retry: [retryTransient],
        End: true,
      },
    },
  };
}
