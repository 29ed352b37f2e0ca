/**
 * What of an error may be logged. Powertools Logger serialises every field of an error object, and
 * a Stripe error carries the PaymentIntent (with its client secret), the payment method (billing
 * details, the card's last four digits) and the raw response; an AWS error may carry the item it
 * conflicted with. So handlers never log an error itself, only this allow-listed summary: names,
 * Stripe's and AWS's codes and request ids, and the messages of errors this project (or
 * Powertools idempotency) wrote, which hold no payment data.
 */
export interface ErrorSummary {
  /** The error's name, then its causes' names: `PaymentProviderError < StripeAPIError`. */
  name: string;
  message?: string;
  /** Our own error code (a refused field's Stripe code, for example). */
  code?: string;
  field?: string;
  stripeType?: string;
  stripeCode?: string;
  stripeDeclineCode?: string;
  stripeParam?: string;
  stripeStatusCode?: number;
  stripeRequestId?: string;
  awsStatusCode?: number;
  awsRequestId?: string;
}

/** Errors whose messages are ours: they name orders and fields, never payment data. */
const OWN_MESSAGES = new Set([
  'PaymentProviderError',
  'PaymentProviderRateLimitedError',
  'PaymentInProgressError',
  'PaymentRejectedError',
  'StoreUnavailableError',
  'OrderConflictError',
  'InvalidSignatureError',
  'IdempotencyAlreadyInProgressError',
  'IdempotencyValidationError',
  'IdempotencyPersistenceLayerError',
  'IdempotencyKeyError',
  'IdempotencyInconsistentStateError',
]);

const MAX_CAUSES = 4;
const MAX_TEXT = 300;

export function errorSummary(error: unknown): ErrorSummary {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && chain.length < MAX_CAUSES; current = (current as { cause?: unknown }).cause) {
    chain.push(current);
    if (!(current instanceof Error)) break;
  }
  const [top] = chain;
  const summary: ErrorSummary = { name: chain.map(nameOf).join(' < ') || 'unknown' };
  if (top instanceof Error && OWN_MESSAGES.has(top.name)) {
    summary.message = top.message.slice(0, MAX_TEXT);
    const { code, field } = top as { code?: unknown; field?: unknown };
    if (typeof code === 'string') summary.code = code;
    if (typeof field === 'string') summary.field = field;
  }
  const stripe = chain.find(isStripeError) as Record<string, unknown> | undefined;
  if (stripe !== undefined) {
    Object.assign(summary, {
      stripeType: text(stripe.rawType),
      stripeCode: text(stripe.code),
      stripeDeclineCode: text(stripe.decline_code),
      stripeParam: text(stripe.param),
      stripeStatusCode: number(stripe.statusCode),
      stripeRequestId: text(stripe.requestId),
    });
  }
  const aws = chain.find((e) => typeof e === 'object' && e !== null && '$metadata' in e) as { $metadata?: Record<string, unknown> } | undefined;
  if (aws?.$metadata !== undefined) {
    Object.assign(summary, { awsStatusCode: number(aws.$metadata.httpStatusCode), awsRequestId: text(aws.$metadata.requestId) });
  }
  return JSON.parse(JSON.stringify(summary)) as ErrorSummary; // drops the fields left undefined
}

/** stripe-node's errors keep the name `Error`; their class name is in `type` (Stripe's own `type` in `rawType`). */
function isStripeError(error: unknown): boolean {
  const type = error instanceof Error ? (error as { type?: unknown }).type : undefined;
  return typeof type === 'string' && type.startsWith('Stripe');
}

function nameOf(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  return (isStripeError(error) ? String((error as { type?: unknown }).type) : error.name).slice(0, 100);
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, MAX_TEXT) : undefined);
const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
