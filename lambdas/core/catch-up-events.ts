import { APPLIED_EVENT_TYPES, type PaymentEvent } from './payment-events';

/**
 * Stripe's own remedy for missed webhooks: its Events API keeps 30 days of events. A scheduled run
 * reads every event the webhook applies, created since the last run's checkpoint (with an overlap),
 * and applies each through the very same handling as a webhook delivery, deduplicated by event id,
 * so an event both delivered and caught up is applied once.
 */

/** Where the events come from: Stripe's Events API, newest first, paged. */
export interface EventFeed {
  eventsSince(since: number, types: readonly string[]): AsyncIterable<PaymentEvent>;
}

/** Up to when (Unix seconds) every event has been read and applied. */
export interface CatchUpCheckpoint {
  read(): Promise<number | undefined>;
  /** Moves it forward only: a slower run that ends after a faster one never moves it back. */
  advance(seconds: number): Promise<void>;
}

/** Each run reads again this much before its checkpoint: an event may be listed a little after its creation time. */
export const CATCH_UP_OVERLAP_SECONDS = 5 * 60;
/** With no checkpoint yet (a first run): as far back as Stripe keeps retrying a webhook. */
export const CATCH_UP_FIRST_LOOKBACK_SECONDS = 72 * 60 * 60;

export interface CatchUpDependencies<Outcome extends string, Invocation> {
  feed: EventFeed;
  checkpoint: CatchUpCheckpoint;
  /** The webhook's handling of a verified event: applied once per event id (the invocation bounds its lock). */
  handleEvent(event: PaymentEvent, invocation?: Invocation): Promise<Outcome>;
  now?: () => Date;
}

export interface CatchUpRun<Invocation> {
  /** The run's invocation (the Lambda context), handed to each event's handling. */
  invocation?: Invocation;
  /** Read from here (Unix seconds) instead of the checkpoint, e.g. `--since 72h`. */
  since?: number;
  /** Asked before each event: true when the run must end (its function is running out of time). */
  outOfTime?: () => boolean;
}

export interface CatchUpSummary<Outcome extends string> {
  since: string;
  /** Events read, and what applying each did (`duplicate`: the webhook or an earlier run had it). */
  events: number;
  outcomes: Partial<Record<Outcome, number>>;
  /** Events that could not be applied this run (read again by the next). */
  failed: number;
  unfinished: boolean;
  /** The checkpoint after this run, if it moved. */
  checkpoint?: string;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

export function createCatchUpEvents<Outcome extends string, Invocation = undefined>({
  feed,
  checkpoint,
  handleEvent,
  now = () => new Date(),
}: CatchUpDependencies<Outcome, Invocation>) {
  return async function catchUpEvents({ invocation, since, outOfTime = () => false }: CatchUpRun<Invocation> = {}): Promise<CatchUpSummary<Outcome>> {
    const startedAt = Math.floor(now().getTime() / 1000);
    const from = since ?? ((await checkpoint.read()) ?? startedAt - CATCH_UP_FIRST_LOOKBACK_SECONDS) - CATCH_UP_OVERLAP_SECONDS;
    const summary: CatchUpSummary<Outcome> = { since: iso(from), events: 0, outcomes: {}, failed: 0, unfinished: false };
    for await (const event of feed.eventsSince(from, APPLIED_EVENT_TYPES)) {
      if (outOfTime()) {
        summary.unfinished = true;
        break;
      }
      summary.events += 1;
      try {
        const outcome = await handleEvent(event, invocation);
        summary.outcomes[outcome] = (summary.outcomes[outcome] ?? 0) + 1;
      } catch {
        // One event's failure must not stop the others; it is read again next run.
        summary.failed += 1;
      }
    }
    // Only a complete run moves the checkpoint, to when it started: nothing before that is left unread.
    if (summary.failed === 0 && !summary.unfinished) {
      await checkpoint.advance(startedAt);
      summary.checkpoint = iso(startedAt);
    }
    return summary;
  };
}

export type CatchUpEvents<Outcome extends string, Invocation = undefined> = ReturnType<typeof createCatchUpEvents<Outcome, Invocation>>;
