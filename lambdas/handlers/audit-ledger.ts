import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { SERVICE_NAME } from '../contract/environment';
import { type Audit, listedAtMost, type SliceReport } from '../core/audit';

/** A difference naming three orderIds of 255 characters is ~900 bytes: 200 make a log line of ~180 KB. */
const DIFFERENCES_PER_LOG_LINE = 200;

/** One Map item: a slice from `since`, `sliceSeconds` long, ending at the window's `until` at the latest. */
export interface SliceRequest {
  since: string;
  until: string;
  sliceSeconds: number;
  listAtMost: number;
}

/**
 * Compares one slice and logs every difference it finds (200 to a line); answers its totals and its first
 * differences, which is what fits in the workflow's payloads.
 */
export function createAuditSliceHandler(audit: Audit, logger = new Logger({ serviceName: SERVICE_NAME })) {
  return async (event: SliceRequest, context?: Context): Promise<SliceReport> => {
    if (context) logger.addContext(context);
    const since = new Date(event.since);
    const until = new Date(Math.min(since.getTime() + event.sliceSeconds * 1000, Date.parse(event.until)));
    const report = await audit(since, until);
    const { discrepancies, ...totals } = report;
    // In lines CloudWatch Logs keeps whole: one line of every difference would be cut at 256 KB.
    for (let from = 0; from < discrepancies.length; from += DIFFERENCES_PER_LOG_LINE) {
      const listed = discrepancies.slice(from, from + DIFFERENCES_PER_LOG_LINE);
      logger.error('Stripe and the ledger differ in this slice', { ...totals, differences: discrepancies.length, from, discrepancies: listed });
    }
    return listedAtMost(report, event.listAtMost);
  };
}
