import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import Stripe from 'stripe';
import { verifiedStripeEvent } from '../../lambdas/adapters/stripe-signature';
import { WEBHOOK_TOLERANCE_SECONDS } from '../../lambdas/contract/settings';
import { InvalidSignatureError } from '../../lambdas/core/errors';

const sdk = new Stripe('sk_test_signatures');
const TOLERANCE = WEBHOOK_TOLERANCE_SECONDS;

type Verdict = { accepted: true; event: unknown } | { accepted: false };

/** The SDK's own check, as the webhook ran it before. */
function sdkVerdict(body: string, header: string, secret: string, nowMs: number): Verdict {
  try {
    return { accepted: true, event: sdk.webhooks.constructEvent(body, header, secret, TOLERANCE, undefined, nowMs) };
  } catch {
    return { accepted: false };
  }
}

/** The hand-written check; a refusal is always an InvalidSignatureError. */
function ourVerdict(body: string, header: string, secret: string, nowMs: number): Verdict {
  try {
    return { accepted: true, event: verifiedStripeEvent(body, header, secret, TOLERANCE, nowMs) };
  } catch (error) {
    if (!(error instanceof InvalidSignatureError)) throw error;
    return { accepted: false };
  }
}

const hex = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength, maxLength });
/** A header item's key or value as Stripe writes them: no `,` or `=`. */
const token = fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/);
const secret = fc.oneof(
  hex(8, 64).map((value) => `whsec_${value}`),
  fc.string({ maxLength: 40 }),
);
const event = fc
  .record({ id: token.map((id) => `evt_${id}`), type: fc.constantFrom('payment_intent.succeeded', 'refund.updated'), data: fc.jsonValue() })
  .map((fields) => JSON.stringify({ object: 'event', ...fields }));
/** Events, any JSON, text that is not JSON (lone surrogates included), and the thin events the SDK refuses. */
const body = fc.oneof(
  { weight: 4, arbitrary: event },
  fc.json(),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constant('{"object":"v2.core.event","id":"evtn_1"}'),
);
const nowSeconds = fc.integer({ min: 1_600_000_000, max: 2_000_000_000 });
/** How old the signature is when it arrives: inside the tolerance, outside it, or from the future. */
const age = fc.oneof(fc.integer({ min: 0, max: TOLERANCE }), fc.integer({ min: TOLERANCE + 1, max: 10 * TOLERANCE }), fc.integer({ min: -TOLERANCE, max: -1 }));

type Item = [key: string, value: string];
const itemsOf = (header: string): Item[] => header.split(',').map((item) => item.split('=') as Item);
const headerOf = (items: Item[]) => items.map(([key, value]) => `${key}=${value}`).join(',');

/** What an attacker or a proxy might do to a well-formed header: every item stays `key=value`, every timestamp digits, every signature ASCII. */
const tampering = fc.record({
  extra: fc.array(
    fc.oneof(
      hex(64, 64).map((value): Item => ['v1', value]),
      hex(1, 70).map((value): Item => ['v1', value]),
      hex(64, 64).map((value): Item => ['v0', value]),
      fc.nat({ max: 2_000_000_000 }).map((value): Item => ['t', String(value)]),
      fc.tuple(
        token.filter((key) => key !== 't' && key !== 'v1'),
        token,
      ),
    ),
    { maxLength: 3 },
  ),
  dropTimestamp: fc.boolean(),
  dropSignature: fc.boolean(),
  signature: fc.constantFrom('kept', 'flipped', 'truncated', 'upper case', 'padded'),
  timestamp: fc.constantFrom('kept', 'leading zeros', 'one later'),
  order: fc.constantFrom('kept', 'reversed', 'extra first'),
});

type Tampering = typeof tampering extends fc.Arbitrary<infer T> ? T : never;

function tampered(header: string, change: Tampering): string {
  let [[, t], [, v1]] = itemsOf(header);
  if (change.timestamp === 'leading zeros') t = `00${t}`;
  if (change.timestamp === 'one later') t = String(Number(t) + 1);
  if (change.signature === 'flipped') v1 = `${v1.slice(0, -1)}${v1.endsWith('0') ? '1' : '0'}`;
  if (change.signature === 'truncated') v1 = v1.slice(0, -2);
  if (change.signature === 'upper case') v1 = v1.toUpperCase();
  if (change.signature === 'padded') v1 = `${v1}0`;
  const own: Item[] = [...(change.dropTimestamp ? [] : [['t', t] as Item]), ...(change.dropSignature ? [] : [['v1', v1] as Item])];
  if (change.order === 'reversed') return headerOf([...own.reverse(), ...change.extra]);
  if (change.order === 'extra first') return headerOf([...change.extra, ...own]);
  return headerOf([...own, ...change.extra]);
}

describe("the webhook's signature check, by hand against stripe-node's constructEvent", () => {
  it('agrees with the SDK on every signed delivery and every tampering of a well-formed header, and answers the same event', () => {
    fc.assert(
      fc.property(
        body,
        body,
        secret,
        secret,
        nowSeconds,
        age,
        fc.boolean(),
        fc.boolean(),
        tampering,
        (signed, other, signingSecret, otherSecret, now, seconds, bodyChanged, secretChanged, change) => {
          const header = sdk.webhooks.generateTestHeaderString({ payload: signed, secret: signingSecret, timestamp: now - seconds });
          const received = bodyChanged ? other : signed;
          const verifiedWith = secretChanged ? otherSecret : signingSecret;
          for (const delivered of [header, tampered(header, change)]) {
            expect(ourVerdict(received, delivered, verifiedWith, now * 1000)).toEqual(sdkVerdict(received, delivered, verifiedWith, now * 1000));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts what Stripe signs: a fresh, untouched delivery of an event', () => {
    fc.assert(
      fc.property(event, hex(32, 32), nowSeconds, (signed, value, now) => {
        const header = sdk.webhooks.generateTestHeaderString({ payload: signed, secret: `whsec_${value}`, timestamp: now });
        expect(ourVerdict(signed, header, `whsec_${value}`, now * 1000)).toEqual({ accepted: true, event: JSON.parse(signed) });
      }),
    );
  });

  it('never accepts what the SDK refuses, whatever the header holds (any text, any characters)', () => {
    const anyHeader = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(fc.tuple(fc.constantFrom('t', 'v1', 'v0', 'x', ''), fc.string({ unit: 'binary', maxLength: 70 })), { maxLength: 4 }).map(headerOf),
    );
    fc.assert(
      fc.property(event, secret, nowSeconds, age, anyHeader, fc.boolean(), (signed, signingSecret, now, seconds, noise, prepend) => {
        const header = sdk.webhooks.generateTestHeaderString({ payload: signed, secret: signingSecret, timestamp: now - seconds });
        for (const delivered of [noise, prepend ? `${noise},${header}` : `${header},${noise}`]) {
          const ours = ourVerdict(signed, delivered, signingSecret, now * 1000);
          if (ours.accepted) expect(sdkVerdict(signed, delivered, signingSecret, now * 1000)).toEqual(ours);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a timestamp that is not a whole number of seconds, which the SDK signs as NaN or its leading digits', () => {
    const signed = '{"id":"evt_1","object":"event"}';
    const secretValue = 'whsec_test';
    const now = 1_700_000_000;
    const sign = (content: string) => createHmac('sha256', secretValue).update(content).digest('hex');
    for (const [t, signedAs] of [
      ['abc', 'NaN'],
      ['', 'NaN'],
      [`${now}abc`, String(now)],
      [` ${now}`, String(now)],
    ]) {
      const header = `t=${t},v1=${sign(`${signedAs}.${signed}`)}`;
      expect(sdkVerdict(signed, header, secretValue, now * 1000).accepted).toBe(true);
      expect(ourVerdict(signed, header, secretValue, now * 1000)).toEqual({ accepted: false });
    }
  });

  it('refuses an empty signing secret, and one of only whitespace', () => {
    const signed = '{"id":"evt_1","object":"event"}';
    const header = sdk.webhooks.generateTestHeaderString({ payload: signed, secret: ' ' });
    expect(() => verifiedStripeEvent(signed, header, ' ', TOLERANCE)).toThrow(InvalidSignatureError);
    expect(() => verifiedStripeEvent(signed, header, '', TOLERANCE)).toThrow(InvalidSignatureError);
  });
});
