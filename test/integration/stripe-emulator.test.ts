import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { createStripeClient } from '../../lambdas/adapters/stripe-payments';
import { type StripeEmulator, startStripeEmulator } from '../../local/stripe-emulator/stripe-emulator';

let emulator: StripeEmulator;
let stripe: Stripe;
beforeAll(async () => {
  emulator = await startStripeEmulator();
  stripe = createStripeClient(emulator.apiKey, emulator.url);
});
afterAll(() => emulator?.stop());
afterEach(() => emulator.faults.clear());

const params = (extra: Partial<Stripe.PaymentIntentCreateParams> = {}): Stripe.PaymentIntentCreateParams => ({
  amount: 1000,
  currency: 'eur',
  payment_method: 'pm_card_visa',
  confirm: true,
  automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
  metadata: { orderId: 'x' },
  ...extra,
});

describe('Stripe emulator, driven by the real stripe SDK', () => {
  it('confirms a PaymentIntent with a succeeding test card and retrieves it', async () => {
    const intent = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-success' });
    expect(intent).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 1000, currency: 'eur' });
    await expect(stripe.paymentIntents.retrieve(intent.id)).resolves.toMatchObject({ id: intent.id, status: 'succeeded' });
  });

  it('replays the first response for the same key, with Idempotent-Replayed', async () => {
    const first = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-replay' });
    const created = emulator.stats().paymentIntentsCreated;
    const second = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-replay' });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(emulator.stats().paymentIntentsCreated).toBe(created);
  });

  it('refuses the same key with other parameters: 400 idempotency_error', async () => {
    await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-mismatch' });
    const reused = stripe.paymentIntents.create(params({ amount: 2000 }), { idempotencyKey: 'emu-mismatch' });
    await expect(reused).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(reused).rejects.toMatchObject({ statusCode: 400 });
  });

  it('answers 409 idempotency_key_in_use while the first request with the key is running', async () => {
    emulator.faults.setLatency(500);
    const patient = stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-concurrent' });
    // Wait until the first request holds the key, whatever the machine's load.
    while ((emulator.stats().requestsByIdempotencyKey['emu-concurrent'] ?? 0) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const impatient = stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-concurrent', maxNetworkRetries: 0 });
    await expect(impatient).rejects.toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
    await expect(patient).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('declines pm_card_chargeDeclined with a card error carrying the PaymentIntent, and replays the decline', async () => {
    const decline = () => stripe.paymentIntents.create(params({ payment_method: 'pm_card_chargeDeclined' }), { idempotencyKey: 'emu-decline' });
    const first = await decline().catch((error: unknown) => error);
    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(first).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'generic_decline' });
    expect((first as Stripe.errors.StripeCardError).payment_intent?.status).toBe('requires_payment_method');
    await expect(decline()).rejects.toMatchObject({ decline_code: 'generic_decline' });
    expect(emulator.paymentIntentsForOrder('x').filter((pi) => pi.payment_method === 'pm_card_chargeDeclined')).toHaveLength(1);
  });

  it('injects 5xx answers that the SDK retries with the same key', async () => {
    emulator.faults.failNext(2, 500);
    const intent = await stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-5xx' } }), { idempotencyKey: 'emu-5xx' });
    expect(intent.status).toBe('succeeded');
    expect(emulator.stats().requestsByIdempotencyKey['emu-5xx']).toBe(3);
  });

  it('drops connections before processing, which the SDK surfaces as a connection error', async () => {
    emulator.faults.dropNextRequests(3);
    const request = stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-drop' } }), { idempotencyKey: 'emu-drop' });
    await expect(request).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(emulator.paymentIntentsForOrder('emu-drop')).toHaveLength(0);
  });

  it('rejects a wrong API key with 401', async () => {
    const stranger = createStripeClient('sk_test_wrong', emulator.url);
    await expect(stranger.paymentIntents.create(params())).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });

  it('validates parameters like Stripe and does not save the failed key', async () => {
    const missingMethod = stripe.paymentIntents.create(params({ payment_method: undefined }), { idempotencyKey: 'emu-invalid' });
    await expect(missingMethod).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-invalid' })).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('finds PaymentIntents by metadata with the search API', async () => {
    const intent = await stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-search' } }), { idempotencyKey: 'emu-search' });
    const found = await stripe.paymentIntents.search({ query: "metadata['orderId']:'emu-search'" });
    expect(found.data.map((pi) => pi.id)).toEqual([intent.id]);
  });

  it('forgets idempotency keys on request, as Stripe may after 24 hours', async () => {
    const first = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-expire' });
    emulator.faults.expireIdempotencyKeys();
    const second = await stripe.paymentIntents.create(params(), { idempotencyKey: 'emu-expire' });
    expect(second.id).not.toBe(first.id);
  });

  it('can lose replayed answers too, so a lost answer can be lost again', async () => {
    emulator.faults.dropNextResponses(3);
    const lost = stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-lost' } }), { idempotencyKey: 'emu-lost' });
    await expect(lost).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(emulator.paymentIntentsForOrder('emu-lost')).toHaveLength(1);
    expect(emulator.stats().replays).toBeGreaterThanOrEqual(2);
  });

  it("rate limits every request for a while as Stripe does: a 429 the SDK raises as StripeRateLimitError with Stripe's reason, and does not retry", async () => {
    emulator.faults.rateLimitFor(300);
    const before = emulator.stats();
    const limited = await stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-429' } }), { idempotencyKey: 'emu-429' }).catch((error) => error);
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(limited).toMatchObject({ statusCode: 429, code: 'rate_limit', headers: expect.objectContaining({ 'stripe-rate-limited-reason': 'global-rate' }) });
    await expect(stripe.paymentIntents.list({ limit: 1 })).rejects.toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(emulator.stats().rateLimited - before.rateLimited).toBe(2);
    expect(emulator.stats().requestsByIdempotencyKey['emu-429']).toBe(1);
    expect(emulator.paymentIntentsForOrder('emu-429')).toHaveLength(0);

    await new Promise((resolve) => setTimeout(resolve, 300));
    // Nothing was done under the key: the same request now creates the PaymentIntent.
    await expect(stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-429' } }), { idempotencyKey: 'emu-429' })).resolves.toMatchObject({
      status: 'succeeded',
    });
  });

  it('admits at most n requests in any one-second window, and refuses the rest with 429', async () => {
    emulator.faults.limitRequestsPerSecond(3);
    const answers = await Promise.allSettled(Array.from({ length: 5 }, () => stripe.paymentIntents.list({ limit: 1 })));
    expect(answers.filter((answer) => answer.status === 'fulfilled')).toHaveLength(3);
    const refused = answers.filter((answer): answer is PromiseRejectedResult => answer.status === 'rejected');
    expect(refused.map((answer) => answer.reason)).toEqual([expect.any(Stripe.errors.StripeRateLimitError), expect.any(Stripe.errors.StripeRateLimitError)]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await expect(stripe.paymentIntents.list({ limit: 1 })).resolves.toBeDefined();
  });

  it("limits one endpoint's requests when told which, as Stripe limits each endpoint", async () => {
    emulator.faults.limitRequestsPerSecond(1, 'POST /v1/payment_intents');
    await stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-endpoint-1' } }));
    await expect(stripe.paymentIntents.create(params({ metadata: { orderId: 'emu-endpoint-2' } }))).rejects.toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    await expect(Promise.all([stripe.paymentIntents.list({ limit: 1 }), stripe.paymentIntents.list({ limit: 1 })])).resolves.toHaveLength(2);
  });

  it('clears the rate limits with the other faults', async () => {
    emulator.faults.rateLimitFor(60_000);
    emulator.faults.limitRequestsPerSecond(0);
    emulator.faults.clear();
    await expect(stripe.paymentIntents.list({ limit: 1 })).resolves.toBeDefined();
  });

  it("refuses amounts below Stripe's minimum", async () => {
    await expect(stripe.paymentIntents.create(params({ amount: 49 }))).rejects.toMatchObject({ code: 'amount_too_small', param: 'amount' });
  });
});

describe('what happens to a payment afterwards: refunds, disputes, events', () => {
  /** Every event id a webhook endpoint of the emulator received. */
  const received: string[] = [];
  let endpoint: Server;
  beforeAll(async () => {
    endpoint = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received.push((JSON.parse(body) as Stripe.Event).id);
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    emulator.webhooks.addEndpoint({ url: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/`, secret: 'whsec_emulator_test' });
  });
  afterAll(() => new Promise<void>((resolve) => endpoint.close(() => resolve())));

  const paid = (paymentMethod = 'pm_card_visa', amount = 1000) => stripe.paymentIntents.create(params({ amount, payment_method: paymentMethod }));
  const chargeOf = (intent: Stripe.PaymentIntent) => stripe.charges.retrieve(intent.latest_charge as string);
  /** The error Stripe refused a request with (a request it answers fails the test). */
  const refusal = (request: Promise<unknown>) =>
    request.then(
      () => {
        throw new Error('Stripe was expected to refuse this');
      },
      (error: Stripe.errors.StripeError) => error,
    );
  /** The emulator's events about one object, oldest first. */
  const eventsAbout = (objectId: string) => emulator.webhooks.events().filter((event) => (event.data.object as { id: string }).id === objectId);

  it('refunds part, then the rest, answering and listing Refunds as Stripe does', async () => {
    const intent = await paid();
    const part = await stripe.refunds.create(
      { payment_intent: intent.id, amount: 300, reason: 'requested_by_customer', metadata: { orderId: 'x' } },
      { idempotencyKey: 'emu-refund-part' },
    );
    expect(part).toMatchObject({
      object: 'refund',
      amount: 300,
      status: 'succeeded',
      payment_intent: intent.id,
      charge: intent.latest_charge,
      currency: 'eur',
      reason: 'requested_by_customer',
      metadata: { orderId: 'x' },
    });
    expect(part.id).toMatch(/^re_/);
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 300, refunded: false, disputed: false, metadata: { orderId: 'x' } });

    const rest = await stripe.refunds.create({ charge: intent.latest_charge as string });
    expect(rest).toMatchObject({ amount: 700, status: 'succeeded', payment_intent: intent.id, reason: null, metadata: {} });
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 1000, refunded: true });
    await expect(stripe.refunds.retrieve(part.id)).resolves.toMatchObject({ id: part.id, amount: 300 });
    expect((await stripe.refunds.list({ payment_intent: intent.id })).data.map((refund) => refund.id)).toEqual([rest.id, part.id]);
    // Each refund told at once: refund.created and charge.refunded with the charge as it then was.
    const refunded = emulator.webhooks
      .events()
      .filter((event) => event.type === 'charge.refunded' && (event.data.object as Stripe.Charge).payment_intent === intent.id);
    expect(refunded.map((event) => (event.data.object as Stripe.Charge).amount_refunded)).toEqual([300, 1000]);
    expect(eventsAbout(part.id).map((event) => event.type)).toEqual(['refund.created']);
    expect(emulator.stats().requestsByEndpoint).toMatchObject({ 'GET /v1/charges/:id': 2, 'GET /v1/refunds/:id': 1, 'GET /v1/refunds': 1 });
  });

  it('replays a refund for the same key and refuses the key with another amount', async () => {
    const intent = await paid();
    const refund = () => stripe.refunds.create({ payment_intent: intent.id, amount: 100 }, { idempotencyKey: 'emu-refund-replay' });
    const first = await refund();
    const second = await refund();
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 100 });

    const other = stripe.refunds.create({ payment_intent: intent.id, amount: 200 }, { idempotencyKey: 'emu-refund-replay' });
    await expect(other).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 100 });
  });

  it("refuses more than is left (no code, param amount) and an already refunded charge, with Stripe's messages", async () => {
    const intent = await paid();
    await stripe.refunds.create({ payment_intent: intent.id, amount: 100 });
    const tooMuch = await refusal(stripe.refunds.create({ payment_intent: intent.id, amount: 901 }, { idempotencyKey: 'emu-refund-too-much' }));
    expect(tooMuch).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(tooMuch).toMatchObject({ statusCode: 400, param: 'amount', code: undefined });
    expect(tooMuch.message).toBe('Refund amount (€9.01) is greater than unrefunded amount on charge (€9.00)');

    // A refusal is not stored, so its key is free for the amount that is left.
    await expect(stripe.refunds.create({ payment_intent: intent.id, amount: 900 }, { idempotencyKey: 'emu-refund-too-much' })).resolves.toMatchObject({
      amount: 900,
    });
    const again = await refusal(stripe.refunds.create({ payment_intent: intent.id }));
    expect(again).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', code: 'charge_already_refunded' });
    expect(again.message).toBe(`Charge ${intent.latest_charge} has already been refunded.`);

    const unknown = await refusal(stripe.refunds.create({ payment_intent: 'pi_unknown' }));
    expect(unknown).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_intent' });
    const unpaid = await stripe.paymentIntents.create(params({ payment_method: 'pm_card_authenticationRequired' }));
    const uncharged = await refusal(stripe.refunds.create({ payment_intent: unpaid.id }));
    expect(uncharged.message).toBe(`This PaymentIntent (${unpaid.id}) does not have a successful charge to refund.`);
  });

  it('keeps a pm_card_pendingRefund refund pending, counted as refunded, until the test settles it', async () => {
    const intent = await paid('pm_card_pendingRefund');
    const refund = await stripe.refunds.create({ payment_intent: intent.id });
    expect(refund.status).toBe('pending');
    // Pending refunds are taken from what is left.
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 1000, refunded: true });
    await expect(stripe.refunds.create({ payment_intent: intent.id, amount: 1 })).rejects.toMatchObject({ code: 'charge_already_refunded' });

    const settled = emulator.refunds.settlePending();
    expect(settled.find((each) => each.id === refund.id)).toMatchObject({ status: 'succeeded' });
    await expect(stripe.refunds.retrieve(refund.id)).resolves.toMatchObject({ status: 'succeeded' });
    const updates = eventsAbout(refund.id).filter((event) => event.type.endsWith('.updated'));
    expect(updates.map((event) => [event.type, (event.data.object as Stripe.Refund).status, event.data.previous_attributes])).toEqual([
      ['refund.updated', 'succeeded', { status: 'pending' }],
      ['charge.refund.updated', 'succeeded', { status: 'pending' }],
    ]);
    expect(() => emulator.refunds.settle(refund.id, 'failed')).toThrow(/final/);
  });

  it('fails a pm_card_refundFail refund after answering succeeded, and gives its amount back to the charge', async () => {
    const intent = await paid('pm_card_refundFail');
    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 600 });
    expect(refund.status).toBe('succeeded');
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 600 });

    expect(emulator.refunds.settle(refund.id)).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
    await expect(stripe.refunds.retrieve(refund.id)).resolves.toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 0, refunded: false });
    expect(eventsAbout(refund.id).map((event) => event.type)).toEqual(['refund.created', 'refund.updated', 'charge.refund.updated', 'refund.failed']);
    // The whole amount can be refunded again.
    await expect(stripe.refunds.create({ payment_intent: intent.id })).resolves.toMatchObject({ amount: 1000 });
  });

  it('disputes a pm_card_createDispute payment right after it succeeds, refuses its refund, and closes the dispute lost', async () => {
    const intent = await paid('pm_card_createDispute', 2500);
    expect(intent.status).toBe('succeeded');
    const [dispute] = (await stripe.disputes.list({ payment_intent: intent.id })).data;
    expect(dispute).toMatchObject({
      object: 'dispute',
      amount: 2500,
      currency: 'eur',
      charge: intent.latest_charge,
      payment_intent: intent.id,
      reason: 'fraudulent',
      status: 'needs_response',
      metadata: {},
    });
    expect(dispute.id).toMatch(/^dp_/);
    await expect(chargeOf(intent)).resolves.toMatchObject({ disputed: true, amount_refunded: 0 });
    const refused = await refusal(stripe.refunds.create({ payment_intent: intent.id }));
    expect(refused).toMatchObject({
      statusCode: 400,
      code: 'charge_disputed',
      message: `Charge ${intent.latest_charge} has been charged back; cannot issue a refund.`,
    });

    expect(emulator.disputes.close(dispute.id, 'lost')).toMatchObject({ status: 'lost' });
    await expect(stripe.disputes.retrieve(dispute.id)).resolves.toMatchObject({ status: 'lost' });
    expect(() => emulator.disputes.close(dispute.id, 'won')).toThrow(/already closed/);
    const disputeEvents = await stripe.events.list({ type: 'charge.dispute.*', created: { gte: dispute.created } });
    const mine = disputeEvents.data.filter((event) => (event.data.object as Stripe.Dispute).id === dispute.id).reverse();
    expect(mine.map((event) => [event.type, (event.data.object as Stripe.Dispute).status])).toEqual([
      ['charge.dispute.created', 'needs_response'],
      ['charge.dispute.funds_withdrawn', 'needs_response'],
      ['charge.dispute.updated', 'lost'],
      ['charge.dispute.closed', 'lost'],
    ]);
    expect(emulator.stats().requestsByEndpoint['GET /v1/disputes/:id']).toBe(1);
  });

  it('lists but never delivers the events of a Dashboard refund made while webhooks are disabled', async () => {
    const since = Math.floor(Date.now() / 1000);
    const intent = await paid();
    const requests = emulator.stats().requests;
    emulator.webhooks.disable();
    const refund = emulator.dashboard.refund(intent.id, { amount: 400, reason: 'duplicate' });
    emulator.webhooks.enable();
    expect(refund).toMatchObject({ amount: 400, reason: 'duplicate', status: 'succeeded', metadata: {} });
    expect(emulator.stats().requests).toBe(requests); // behind the service's back: no API request
    await expect(chargeOf(intent)).resolves.toMatchObject({ amount_refunded: 400 });

    const listed = await stripe.events.list({ created: { gte: since }, types: ['refund.created', 'charge.refunded'] });
    const missed = listed.data.filter(
      (event) => (event.data.object as { id: string }).id === refund.id || (event.data.object as { id: string }).id === intent.latest_charge,
    );
    expect(missed.map((event) => event.type)).toEqual(['charge.refunded', 'refund.created']); // newest first
    await expect(stripe.events.retrieve(missed[0].id)).resolves.toMatchObject({ id: missed[0].id, type: 'charge.refunded' });

    // Enabled again, later events are delivered; the missed ones are not, not even now.
    const next = emulator.dashboard.refund(intent.id, { amount: 100 });
    await emulator.webhooks.settled();
    const delivered = (eventId: string) => received.includes(eventId) || emulator.webhooks.deliveries().some((delivery) => delivery.eventId === eventId);
    expect(missed.filter((event) => delivered(event.id))).toEqual([]);
    expect(eventsAbout(next.id).every((event) => delivered(event.id))).toBe(true);
    expect(received).toContain(eventsAbout(intent.id).find((event) => event.type === 'payment_intent.succeeded')?.id);
    expect(() => emulator.dashboard.refund(intent.id, { amount: 600 })).toThrow(/greater than unrefunded amount/);
  });

  it('pages events newest first with a small limit, by hand, backwards and by auto-pagination', async () => {
    const since = Math.floor(Date.now() / 1000);
    for (let created = 0; created < 3; created += 1) await paid();
    const filter = { created: { gte: since }, types: ['payment_intent.created', 'payment_intent.succeeded'] };
    // What the Events API must answer: the emulator's events of those types since then, newest first.
    const expected = emulator.webhooks
      .events()
      .filter((event) => event.created >= since && filter.types.includes(event.type))
      .map((event) => event.id)
      .reverse();
    expect(expected.length).toBeGreaterThanOrEqual(6);

    const pages: string[][] = [];
    let page = await stripe.events.list({ ...filter, limit: 4 });
    pages.push(page.data.map((event) => event.id));
    while (page.has_more) {
      page = await stripe.events.list({ ...filter, limit: 4, starting_after: page.data[page.data.length - 1].id });
      pages.push(page.data.map((event) => event.id));
    }
    expect(pages.flat()).toEqual(expected);
    expect(pages.slice(0, -1).every((ids) => ids.length === 4)).toBe(true);

    const backwards = await stripe.events.list({ ...filter, limit: 4, ending_before: pages[1][0] });
    expect(backwards.data.map((event) => event.id)).toEqual(pages[0]);
    expect(backwards.has_more).toBe(false);

    const all: string[] = [];
    for await (const event of stripe.events.list({ ...filter, limit: 2 })) all.push(event.id);
    expect(all).toEqual(expected);
    await expect(stripe.events.list({ limit: 101 })).rejects.toMatchObject({ statusCode: 400, param: 'limit' });
  });
});
