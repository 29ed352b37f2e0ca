import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import type { EmitEvent } from './stripe-objects';

export interface StripeEvent {
  id: string;
  object: 'event';
  type: string;
  created: number;
  livemode: false;
  api_version: string;
  pending_webhooks: number;
  /** `previous_attributes`: the values an update changed, as they were before it. */
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
}

export interface Delivery {
  eventId: string;
  /** The endpoint it went to. */
  url: string;
  type: string;
  /** The endpoint's HTTP status, or 0 when it could not be reached. */
  status: number;
}

/** Switches a test flips to deliver webhooks the way Stripe may: repeated, late and in any order. */
export interface WebhookControls {
  /**
   * Adds an endpoint: where events go and the `whsec_…` secret they are signed with. Like a Stripe
   * account with several webhook endpoints, every event goes to every endpoint; none before the first.
   */
  addEndpoint(endpoint: WebhookEndpoint): void;
  /** Deliver every event this many times (Stripe delivers at least once). */
  deliverEachTimes(times: number): void;
  /** Keep events instead of sending them, until `release`. */
  hold(): void;
  /** Send the held events, as they happened or newest first, then stop holding. */
  release(order?: 'as-is' | 'reverse'): Promise<void>;
  /**
   * Stop delivering, as a disabled endpoint does: events are still created (the Events API lists
   * them) but never sent, not even after `enable`. Events held before still go out on `release`.
   */
  disable(): void;
  /** Deliver events created from now on again. */
  enable(): void;
  /** Every event created so far, oldest first, delivered or not. */
  events(): StripeEvent[];
  /** Every delivery attempt so far. */
  deliveries(): Delivery[];
  /** Resolves when every delivery in flight has finished (retries included). */
  settled(): Promise<void>;
}

export interface WebhookEndpoint {
  url: string;
  secret: string;
}

/** Stripe retries for days; the emulator a few times with doubling waits (about 1.5 s in all). */
const ATTEMPTS = 5;

/** Signs events with the endpoint secret (through the stripe SDK's test helper) and posts them. */
export function createWebhookSender(): WebhookControls & { emit: EmitEvent } {
  const signer = new Stripe('sk_test_webhook_signer');
  const endpoints: WebhookEndpoint[] = [];
  let times = 1;
  let holding = false;
  let disabled = false;
  const held: StripeEvent[] = [];
  const all: StripeEvent[] = [];
  const deliveries: Delivery[] = [];
  const inFlight = new Set<Promise<void>>();

  async function deliverOnce(event: StripeEvent, endpoint: WebhookEndpoint): Promise<void> {
    const payload = JSON.stringify(event);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      // Signed per attempt, as Stripe does: the timestamp is the attempt's.
      const signature = signer.webhooks.generateTestHeaderString({ payload, secret: endpoint.secret });
      const status = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'Stripe-Signature': signature },
        body: payload,
      }).then(
        (response) => response.status,
        () => 0,
      );
      deliveries.push({ eventId: event.id, url: endpoint.url, type: event.type, status });
      if (status >= 200 && status < 300) return;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));
    }
  }

  function send(event: StripeEvent): void {
    for (const endpoint of endpoints) {
      for (let copy = 0; copy < times; copy += 1) {
        const delivery = deliverOnce(event, endpoint).finally(() => inFlight.delete(delivery));
        inFlight.add(delivery);
      }
    }
  }

  return {
    emit(type, object, previousAttributes) {
      const event: StripeEvent = {
        id: `evt_${randomBytes(12).toString('hex')}`,
        object: 'event',
        type,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        api_version: '2025-01-27.acacia',
        pending_webhooks: 1,
        // A snapshot: later changes to the object must not change what this event said.
        data: { object: structuredClone(object), ...(previousAttributes && { previous_attributes: previousAttributes }) },
      };
      all.push(event);
      if (disabled) return;
      if (holding) held.push(event);
      else send(event);
    },
    addEndpoint: (endpoint) => {
      endpoints.push(endpoint);
    },
    deliverEachTimes: (count) => {
      times = count;
    },
    hold: () => {
      holding = true;
    },
    async release(order = 'as-is') {
      holding = false;
      const events = held.splice(0);
      if (order === 'reverse') events.reverse();
      for (const event of events) send(event);
      await this.settled();
    },
    disable: () => {
      disabled = true;
    },
    enable: () => {
      disabled = false;
    },
    events: () => [...all],
    deliveries: () => [...deliveries],
    async settled() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
