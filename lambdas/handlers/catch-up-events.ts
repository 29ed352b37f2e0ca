import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { createCatchUpCheckpoint } from '../adapters/catch-up-checkpoint';
import {
  createStripeEventFeed,
  type DeliveryOutcome,
  type HandleStripeEvent,
  isEventInProgress,
  type StripeEventHandlingOptions,
} from '../adapters/stripe-webhooks';
import { METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { RECONCILE_STOP_MARGIN_MS } from '../contract/settings';
import { windowStart } from '../core/audit';
import { type CatchUpEvents, type CatchUpSummary, createCatchUpEvents } from '../core/catch-up-events';
import { countOutcome, publishCounts, serviceMetrics } from './outcome-metrics';

/** `since`: read from this long ago (`72h`, `90m`, …) instead of the checkpoint. */
export interface CatchUpRequest {
  since?: string;
}
export type CatchUpHandler = (event: CatchUpRequest | undefined, context: Context) => Promise<CatchUpSummary<DeliveryOutcome>>;

/**
 * Applies the events a webhook may have missed, from Stripe's Events API. A run that could not
 * apply every event fails (after applying the others), so the function's error alarm tells a
 * person; the next scheduled run reads them again.
 */
export function createCatchUpHandler(
  catchUp: CatchUpEvents<DeliveryOutcome, Context>,
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): CatchUpHandler {
  return async (event, context) => {
    logger.addContext(context);
    const since = event?.since === undefined ? undefined : Math.floor(windowStart(event.since).getTime() / 1000);
    let summary: CatchUpSummary<DeliveryOutcome>;
    try {
      summary = await catchUp({ invocation: context, since, outOfTime: () => context.getRemainingTimeInMillis() < RECONCILE_STOP_MARGIN_MS });
      // Applied here means no webhook had brought it: a missed webhook, worth a look when it happens often.
      countOutcome(metrics, METRIC_NAMES.eventsCaughtUp, summary.outcomes.applied ?? 0);
    } finally {
      // What the run counted (a failed refund, a new dispute) is published even when a later slice threw.
      publishCounts(metrics);
    }
    if (summary.failed > 0) {
      logger.error('events could not be applied; the next run reads them again', { ...summary });
      throw new Error(`${summary.failed} event(s) could not be applied`);
    }
    logger.info('events caught up', { ...summary });
    return summary;
  };
}

/** The catch-up wired to Stripe's Events API, the key table's checkpoint and the webhook's own handling of each event. */
export function createCatchUp(handleEvent: HandleStripeEvent, options: StripeEventHandlingOptions) {
  return createCatchUpEvents<DeliveryOutcome, Context>({
    feed: createStripeEventFeed(options.stripe),
    checkpoint: createCatchUpCheckpoint(options.dynamoDb, options.idempotencyTableName),
    isInProgress: isEventInProgress,
    handleEvent,
  });
}
