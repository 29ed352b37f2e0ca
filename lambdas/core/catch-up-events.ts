import { APPLIED_EVENT_TYPES, type PaymentEvent } from './payment-events';

/**
 * Stripe's own remedy for missed webhooks: its Events API keeps 30 days of events. A scheduled run
 * reads every event the webhook applies, created since the last run's checkpoint (with an overlap),
 * and applies each through the very same handling as a webhook delivery, deduplicated by event id,
 * so an event both delivered and caught up is applied once.
 *
 * It walks the window oldest first, a slice of time at a time, and moves the checkpoint past each
 * slice it applied completely: a backlog bigger than one run is worked off over several runs
 * instead of starting again from its newest events each time.
 */

/** Where the events come from: Stripe's Events API. */
export interface EventFeed {
  /** The events of these types created in [from, until) (Unix seconds), in any order. */
  eventsBetween(from: number, until: number, types: readonly string[]): AsyncIterable<PaymentEvent>;
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
/**
 * The window is read and applied this much at a time, halved while a slice holds more events than
 * a few seconds of work, so a run short of time stops at most one small slice early.
 */
export const CATCH_UP_SLICE_SECONDS = 5 * 60;
const CATCH_UP_MAX_EVENTS_PER_SLICE = 200;

/** An event another delivery of it (a webhook, another run) is applying right now: not a failure, but not done either. */
export const IN_PROGRESS = 'in_progress';

export interface CatchUpDependencies<Outcome extends string, Invocation> {
  feed: EventFeed;
  checkpoint: CatchUpCheckpoint;
  /** The webhook's handling of a verified event: applied once per event id (the invocation bounds its lock). */
  handleEvent(event: PaymentEvent, invocation?: Invocation): Promise<Outcome>;
  /** True for the error the handling throws while another delivery of the same event is being applied. */
  isInProgress(error: unknown): boolean;
  now?: () => Date;
  /** Tests shorten these (CATCH_UP_SLICE_SECONDS, CATCH_UP_OVERLAP_SECONDS). */
  sliceSeconds?: number;
  overlapSeconds?: number;
}

export interface CatchUpRun<Invocation> {
  /** The run's invocation (the Lambda context), handed to each event's handling. */
  invocation?: Invocation;
  /** Read from here (Unix seconds) instead of the checkpoint, e.g. `--since 72h`. */
  since?: number;
  /** Asked before each slice and each event: true when the run must end (its function is running out of time). */
  outOfTime?: () => boolean;
}

export interface CatchUpSummary<Outcome extends string> {
  since: string;
  /** Events read, and what applying each did (`duplicate`: the webhook or an earlier run had it). */
  events: number;
  outcomes: Partial<Record<Outcome | typeof IN_PROGRESS, number>>;
  /** Events that could not be applied this run (read again by the next). */
  failed: number;
  /** The run stopped before the end of its window (out of time, or an event not applied yet); the next run goes on from the checkpoint. */
  unfinished: boolean;
  /** The checkpoint after this run, if it moved. */
  checkpoint?: string;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

export function createCatchUpEvents<Outcome extends string, Invocation = undefined>({
  feed,
  checkpoint,
  handleEvent,
  isInProgress,
  now = () => new Date(),
  sliceSeconds: fullSlice = CATCH_UP_SLICE_SECONDS,
  overlapSeconds = CATCH_UP_OVERLAP_SECONDS,
}: CatchUpDependencies<Outcome, Invocation>) {
  /** The slice's events, oldest first; undefined when there are too many for one slice (then it is halved). */
  async function sliceEvents(from: number, until: number): Promise<PaymentEvent[] | undefined> {
    const events: PaymentEvent[] = [];
    for await (const event of feed.eventsBetween(from, until, APPLIED_EVENT_TYPES)) {
      events.push(event);
      if (events.length > CATCH_UP_MAX_EVENTS_PER_SLICE && until - from > 1) return undefined;
    }
    return events.sort((a, b) => a.created - b.created);
  }

  return async function catchUpEvents({ invocation, since, outOfTime = () => false }: CatchUpRun<Invocation> = {}): Promise<CatchUpSummary<Outcome>> {
    const startedAt = Math.floor(now().getTime() / 1000);
    const stored = await checkpoint.read();
    const readFrom = stored ?? startedAt - CATCH_UP_FIRST_LOOKBACK_SECONDS;
    const from = since ?? readFrom - overlapSeconds;
    // Only a run that reads on from where the next would start may move the checkpoint: a `--since` run starting later would skip what lies between.
    const readsOn = from <= readFrom;
    const summary: CatchUpSummary<Outcome> = { since: iso(from), events: 0, outcomes: {}, failed: 0, unfinished: false };
    const count = (outcome: Outcome | typeof IN_PROGRESS) => {
      summary.outcomes[outcome] = (summary.outcomes[outcome] ?? 0) + 1;
    };
    /** Applies one event; false when it could not be (yet). */
    const apply = async (event: PaymentEvent, last: boolean): Promise<boolean> => {
      try {
        count(await handleEvent(event, invocation));
        return true;
      } catch (error) {
        if (!last) return false;
        if (isInProgress(error)) count(IN_PROGRESS);
        else summary.failed += 1;
        return false;
      }
    };

    // Up to the end of the run's first second: what happens later in it is read again next run (the overlap).
    const until = startedAt + 1;
    let sliceSeconds = fullSlice;
    slices: for (let start = from; start < until; ) {
      if (outOfTime()) {
        summary.unfinished = true;
        break;
      }
      const end = Math.min(start + sliceSeconds, until);
      const events = await sliceEvents(start, end);
      if (events === undefined) {
        sliceSeconds = Math.max(1, Math.floor(sliceSeconds / 2));
        continue;
      }
      summary.events += events.length;
      // Oldest first, so a payment's own event comes before its refunds; what still waits (a refund
      // of a payment whose event is in the same second) is tried once more after the others.
      const waiting: PaymentEvent[] = [];
      for (const event of events) {
        // Out of time within a slice: it is read again, whole, next run (what was applied is a duplicate then).
        if (outOfTime()) {
          summary.unfinished = true;
          break slices;
        }
        if (!(await apply(event, false))) waiting.push(event);
      }
      let complete = true;
      for (const event of waiting) complete = (await apply(event, true)) && complete;
      if (!complete) {
        // A failure is read again next run, from here (events are deduplicated by id).
        summary.unfinished = true;
        break;
      }
      if (readsOn) {
        await checkpoint.advance(end);
        summary.checkpoint = iso(end);
      }
      start = end;
      sliceSeconds = fullSlice;
    }
    return summary;
  };
}

export type CatchUpEvents<Outcome extends string, Invocation = undefined> = ReturnType<typeof createCatchUpEvents<Outcome, Invocation>>;
