import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidSignatureError } from '../core/errors';

// Hand-written, not the SDK's constructEvent: loading the SDK to check an HMAC would cost every rejected delivery the SDK's init.

/** The scheme Stripe signs with; others it may send alongside (`v0`, test schemes) are not signatures of ours. */
const SIGNED_SCHEME = 'v1';

/**
 * Stripe's webhook signature check (https://docs.stripe.com/webhooks/signature), as stripe-node's
 * `constructEvent` makes it: the header is `t=<unix seconds>,v1=<hex>` with possibly more `v1` and
 * other schemes; one `v1` must equal, compared in constant time, the HMAC-SHA256 of `<t>.<raw body>`
 * under the signing secret, and `t` be at most `toleranceSeconds` old. Answers the parsed event.
 * Stricter than the SDK in two ways only: a `t` that is not a whole number of seconds, and a `v1`
 * that is empty or not printable ASCII, reject the header (the SDK reads such a `t` as NaN or its
 * leading digits, and throws on an empty `v1`).
 */
export function verifiedStripeEvent(rawBody: string, header: string, secret: string, toleranceSeconds: number, nowMs = Date.now()): unknown {
  if (secret.trim() === '') throw new InvalidSignatureError('no webhook signing secret is set');
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const [key, value] = item.split('=');
    if (key === 't') timestamp = value;
    if (key === SIGNED_SCHEME) signatures.push(value ?? '');
  }
  if (timestamp === undefined || !/^\d+$/.test(timestamp)) throw new InvalidSignatureError('the header has no timestamp in whole seconds');
  if (signatures.length === 0) throw new InvalidSignatureError(`the header has no ${SIGNED_SCHEME} signature`);
  if (signatures.some((signature) => !/^[\x21-\x7e]+$/.test(signature)))
    throw new InvalidSignatureError(`the header has a malformed ${SIGNED_SCHEME} signature`);

  // The number, as the SDK signs it: `t=007` is the timestamp 7.
  const seconds = Number(timestamp);
  const expected = Buffer.from(createHmac('sha256', secret).update(`${seconds}.${rawBody}`, 'utf8').digest('hex'));
  const matches = (signature: string) => signature.length === expected.length && timingSafeEqual(Buffer.from(signature), expected);
  if (!signatures.some(matches)) throw new InvalidSignatureError('no signature matches this body');
  if (toleranceSeconds > 0 && Math.floor(nowMs / 1000) - seconds > toleranceSeconds) throw new InvalidSignatureError('the timestamp is outside the tolerance');

  let event: unknown;
  try {
    event = JSON.parse(rawBody);
  } catch {
    throw new InvalidSignatureError('the signed body is not JSON');
  }
  // A thin event notification (Stripe's v2 events) is not a webhook event; the SDK refuses it too.
  if ((event as { object?: unknown } | null)?.object === 'v2.core.event') throw new InvalidSignatureError('a thin event notification is not a webhook event');
  return event;
}
