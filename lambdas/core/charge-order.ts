import { BEFORE_NAMESPACES } from '../contract/payment-metadata';
import { type ChargeRequest, PAYMENT_IDENTITY_FIELDS } from '../contract/payment-request';
import { STRIPE_KEY_TRUSTED_FOR_MS } from '../contract/settings';
import { OrderConflictError, PaymentInProgressError, PaymentProviderError, PaymentRejectedError } from './errors';
import { type DisputeState, factVersion } from './payment-events';
import type { Refunds } from './refund-order';
import { type PaymentIntentCreate, type PersonalData, paymentIntentCreateOf, personalDataOf } from './stripe-requests';

/**
 * Ledger states. `pending` is written before Stripe is called, so a crash between the charge and
 * the ledger update leaves a visible trace; the retry finishes it without a second charge, and if
 * nobody retries, the reconciler settles it. `expired`: the reconciler found no PaymentIntent for
 * an order that came through the API, so nothing was charged and nothing is in flight; the same
 * request may still charge it (once).
 */
export type LedgerStatus = 'pending' | 'charged' | 'requires_action' | 'declined' | 'canceled' | 'expired' | 'partially_refunded' | 'refunded';
export type FinalStatus = Exclude<LedgerStatus, 'pending'>;
/** What a charge attempt resumes: the first attempt's record, waiting, or expired with nothing charged. */
export const RESUMABLE_STATUSES: readonly LedgerStatus[] = ['pending', 'expired'];

/** How the order came in: the reconciler expires an API order nobody retried, and leaves a queued one to the queue. */
export type OrderChannel = 'api' | 'queue';

/** Where a new order's record says it came from, and in which namespace its Stripe requests are made. */
export interface OrderOrigin {
  channel: OrderChannel;
  namespace: string;
}

/** The namespace an order's Stripe requests are made in: the one its record was created in. */
export function namespaceOf(record: LedgerRecord): string {
  return record.namespace ?? BEFORE_NAMESPACES;
}

export interface LedgerRecord {
  orderId: string;
  status: LedgerStatus;
  amount: number;
  currency: string;
  paymentMethod?: string;
  customerId?: string;
  description?: string;
  /** The request had personal data (request-fields.ts), kept in the key table rather than here: every attempt sends it from there. */
  personalDataKept?: boolean;
  paymentId?: string;
  /** Stripe's PaymentIntent status, e.g. `succeeded`. */
  paymentStatus?: string;
  declineCode?: string;
  amountRefunded?: number;
  /** The webhook event whose fact the record shows, if any. */
  lastEventId?: string;
  /** Version of the newest Stripe fact written (see payment-events.ts): older facts never overwrite it. */
  factVersion?: string;
  channel?: OrderChannel;
  /**
   * The deployment namespace the order's Stripe requests were made in (key and metadata), kept so
   * that a resume, a lookup or the reconciler use it even after the deployment's namespace changed.
   * Absent on records written before namespaces (BEFORE_NAMESPACES).
   */
  namespace?: string;
  /** When the latest charge attempt started (the reconciler leaves a record with a recent one alone). */
  attemptAt?: string;
  /** Which request wrote the pending record or last took it up: a refused request withdraws only its own. */
  attemptId?: string;
  /** The order's refunds by refundId (refund-order.ts), and what follows from them. */
  refunds?: Refunds;
  /** Minor units taken from what is refundable: refunds that succeeded, or may still. */
  refundReserved?: number;
  /** Counts every change of `refunds`: each refund write expects the one it read. */
  refundsVersion?: number;
  /** The payment's dispute, if the customer's bank opened one. */
  dispute?: DisputeState;
  /** When this ledger first recorded the dispute (so it is counted, and alarmed, once). */
  disputeOpenedAt?: string;
  createdAt: string;
  updatedAt: string;
}

/** What a PaymentIntent's state means for the order. */
export type PaymentOutcome = 'charged' | 'requires_action' | 'declined' | 'canceled';

/** What Stripe said about the order's PaymentIntent. */
export interface PaymentAttempt {
  status: PaymentOutcome;
  paymentId?: string;
  paymentStatus?: string;
  declineCode?: string;
  /** For `requires_action`: what the customer's browser needs to finish the payment with Stripe.js. Never stored in the ledger. */
  clientSecret?: string;
  /** When Stripe created the PaymentIntent (Unix seconds): every event about it is at least as new. */
  paymentCreated?: number;
}

/** A Stripe answer as the ledger stores it, versioned like the webhook facts it competes with. */
export type LedgerFact = Omit<PaymentAttempt, 'clientSecret' | 'paymentCreated'> & { factVersion?: string };

export interface PaymentsLedger {
  /**
   * Stores the order's `pending` record (pendingRecordOf) unless the order exists (one conditional
   * write). Returns the existing record, or undefined when this call stored the given one.
   */
  createPendingOrGet(pending: LedgerRecord): Promise<LedgerRecord | undefined>;
  /**
   * Marks a new attempt on a `pending` or `expired` record (it becomes `pending`, attempted now),
   * before Stripe is called, so the reconciler leaves it alone. A record written before records
   * knew their channel takes this attempt's. Returns the record as it is after
   * (someone else's final record if they finished first), or undefined if it is gone (withdrawn).
   */
  markAttempt(orderId: string, channel: OrderChannel, now: string, attemptId: string): Promise<LedgerRecord | undefined>;
  /** Moves a pending (or expired) record to its final status; returns the stored record (someone else's if they won). */
  finalize(orderId: string, fact: LedgerFact, now: string): Promise<LedgerRecord>;
  /**
   * Removes a pending record after Stripe refused the payment and charged nothing; given
   * `attemptId`, only while the record is still that attempt's (no charge has taken it up since).
   */
  releasePending(orderId: string, attemptId?: string): Promise<void>;
}

/**
 * Where an order's personal data is kept: in the key table, for longer than Stripe keeps its
 * idempotency key (PERSONAL_DATA_EXPIRY_SECONDS), never in the ledger.
 */
export interface PersonalDataStore {
  /**
   * Keeps `data` for the order and returns what is kept: unless some is kept already (first wins),
   * or in place of it when `replacing` (a new record: Stripe never kept a request with the old).
   */
  keep(namespace: string, orderId: string, data: PersonalData, replacing: boolean): Promise<PersonalData>;
  /** Forgets what is kept for the order: Stripe refused its request and stored nothing. */
  forget(namespace: string, orderId: string): Promise<void>;
}

export interface PaymentProvider {
  /** Sends the order's PaymentIntent create (stripe-requests.ts), as built: it creates and, with a payment method, confirms it. */
  createPayment(create: PaymentIntentCreate): Promise<PaymentAttempt>;
  /**
   * Finds the order's PaymentIntent by its metadata, once Stripe may have forgotten the key: only
   * one made in this namespace for this orderId, amount and currency (payment-ownership.ts).
   */
  findPayment(order: ChargeRequest, namespace: string): Promise<PaymentAttempt | undefined>;
  /** The client secret of a PaymentIntent that needs the customer (read only; it is never stored). */
  clientSecretOf(paymentId: string): Promise<string | undefined>;
}

/** Plain JSON (no undefined, no Date): Powertools stores it as the idempotent response. */
export interface ChargeResult {
  orderId: string;
  status: FinalStatus;
  amount: number;
  currency: string;
  paymentId: string | null;
  paymentStatus: string | null;
  declineCode: string | null;
  clientSecret: string | null;
  /** True when this call found the order already finished and charged nothing. */
  replayed: boolean;
}

export interface ChargeOrderDependencies {
  ledger: PaymentsLedger;
  payments: PaymentProvider;
  personalData: PersonalDataStore;
  /** Where this charge's orders come from, and the deployment's namespace at Stripe for new ones. */
  origin: OrderOrigin;
  now?: () => Date;
  /** How the charge waits for a withdrawal (WITHDRAWAL_WAITS_MS); tests pass a faster one. */
  pause?: (ms: number) => Promise<void>;
}

/** A new order's `pending` record: its attempt's id is what a withdrawal or a take-up names. */
export type NewRecord = LedgerRecord & { attemptId: string };

/** What `open` found: the pending record this call sent, and the order's record if one was there. */
export interface OpenedOrder {
  pending: NewRecord;
  existing?: LedgerRecord;
}

/** A charge's first ledger write, sent: the record (what `withdraw` needs, even if the answer is lost), and its answer to come. */
export interface OpeningOrder {
  pending: NewRecord;
  opened: Promise<OpenedOrder>;
}

/** A charge's answer, its last ledger write still in flight so a caller can overlap it with its own. */
export interface ChargeAnswer {
  result: ChargeResult;
  /** Settles once the ledger holds Stripe's answer; rejects when that write failed. */
  recorded: Promise<unknown>;
}

/**
 * How long a charge waits, in steps, for a pending record of another request to be withdrawn
 * before it takes the record up or answers "in progress": a request refused by the key table
 * withdraws the record its create wrote one round trip after the refusal (idempotent-use-cases.ts).
 */
const WITHDRAWAL_WAITS_MS = [20, 40, 80, 160];

/**
 * Charges an order at most once. Safe to call any number of times, concurrently or after a crash:
 * the ledger stops a second charge once the order is final; while it is pending, Stripe's
 * idempotency key (the namespaced orderId) returns the first PaymentIntent, and once Stripe may have
 * forgotten that key the PaymentIntent is looked up by the orderId in its metadata instead.
 *
 * It comes in steps so that the idempotent charge (idempotent-use-cases.ts) can send its key-table
 * writes together with the ledger's: `open` with the key claim, `recorded` with the key completion.
 * Called as a function, it runs them one after the other.
 */
export function createChargeOrder({ ledger, payments, personalData, origin, now = () => new Date(), pause = sleep }: ChargeOrderDependencies) {
  /** Sends the order's `pending` record, written unless the order has one (one conditional write). */
  function open(order: ChargeRequest): OpeningOrder {
    const pending = pendingRecordOf(order, origin, now().toISOString());
    return { pending, opened: ledger.createPendingOrGet(pending).then((existing) => (existing === undefined ? { pending } : { pending, existing })) };
  }

  /** Charges the opened order; answers as soon as Stripe has, the ledger's final write in flight. */
  async function chargeOpened(order: ChargeRequest, { pending, existing: found }: OpenedOrder): Promise<ChargeAnswer> {
    let existing = found;
    // A pending record of another request (another payment, or the same one with other fields) may
    // be a refused request's, about to be withdrawn: this charge's own fields go to Stripe if it is.
    for (const wait of WITHDRAWAL_WAITS_MS) {
      if (existing?.status !== 'pending' || sameRequest(existing, pending)) break;
      await pause(wait);
      existing = await ledger.createPendingOrGet(pending);
    }
    // Not refused: it may still be withdrawn, or its payment may not be finished; either way, later it is decided.
    if (existing?.status === 'pending' && conflictingFields(existing, order).length > 0) {
      throw new PaymentInProgressError({ message: `another payment under order ${order.orderId} is not finished` });
    }
    // What is sent to Stripe comes from the stored record, the first time and on every resume.
    let stored: LedgerRecord = pending;
    if (existing !== undefined) {
      assertSamePayment(existing, order);
      if (!RESUMABLE_STATUSES.includes(existing.status)) return settled(await replayOf(existing));
      // Claimed before Stripe is called, so the reconciler cannot expire what is about to be charged.
      const resumed = await ledger.markAttempt(order.orderId, origin.channel, now().toISOString(), pending.attemptId);
      // Withdrawn by the refused request that wrote it, just before: this charge writes its own.
      if (resumed === undefined) return chargeOpened(order, await open(order).opened);
      if (!RESUMABLE_STATUSES.includes(resumed.status)) return settled(await replayOf(resumed));
      // Resume with exactly what was first sent to Stripe: a changed description must not break the key.
      stored = existing;
      if (now().getTime() - Date.parse(existing.createdAt) > STRIPE_KEY_TRUSTED_FOR_MS) {
        const paid = await payments.findPayment(existing, namespaceOf(existing));
        if (paid !== undefined) return answerOf(stored, paid);
      }
    }
    // Kept before Stripe sees it, first wins: a resume sends what the first attempt did (or would
    // have). A new record replaces what a request Stripe refused (its record released) had kept.
    const personal = stored.personalDataKept ? await personalData.keep(namespaceOf(stored), order.orderId, personalDataOf(order), existing === undefined) : {};
    let attempt: PaymentAttempt;
    try {
      attempt = await payments.createPayment(paymentIntentCreateOf(stored, personal));
    } catch (error) {
      if (error instanceof PaymentRejectedError) {
        // Stripe made a PaymentIntent, then refused to confirm it: the order keeps it, never freed for a second one.
        if (error.paymentMade !== undefined) await ledger.finalize(order.orderId, ledgerFact(error.paymentMade), now().toISOString());
        else {
          // Stripe charged nothing and stored nothing: free the orderId, and what was kept for it, for a corrected request.
          await ledger.releasePending(order.orderId);
          // At best: what stays is replaced by the next new record's (keep), so the refusal stays the answer.
          if (stored.personalDataKept) await personalData.forget(namespaceOf(stored), order.orderId).catch(() => undefined);
        }
      }
      throw error;
    }
    return answerOf(stored, attempt);
  }

  /**
   * Stripe's answer is the charge's answer: the ledger write that records it is left in flight.
   * If it fails, the record stays pending, as after a crash: a webhook or the reconciler settles it.
   */
  function answerOf(stored: LedgerRecord, attempt: PaymentAttempt): ChargeAnswer {
    const fact = ledgerFact(attempt);
    const recorded = ledger.finalize(stored.orderId, fact, now().toISOString());
    return { result: toChargeResult({ ...stored, ...fact }, false, attempt.clientSecret), recorded };
  }

  /**
   * Withdraws the pending record `open` sent, for a request that never charged (the key table
   * refused it): only if it was written, and while no charge has taken it up since (a new attempt).
   * `opened` is open's answer, or undefined if it was lost; an answer naming another attempt's
   * record means this one was never written, and nothing is sent.
   */
  async function withdraw(pending: NewRecord, opened?: OpenedOrder): Promise<void> {
    if (opened?.existing !== undefined && opened.existing.attemptId !== pending.attemptId) return;
    await ledger.releasePending(pending.orderId, pending.attemptId);
  }

  /**
   * A finished order's answer from the ledger. One that needs the customer is asked of Stripe for
   * its client secret, which the ledger never keeps: the key table's stored answer may be gone
   * (after 24 h), or there never was one (the reconciler or a webhook settled the order).
   */
  async function replayOf(record: LedgerRecord): Promise<ChargeResult> {
    // Only an API client can pass it to the customer; the queue worker needs none.
    if (record.status !== 'requires_action' || record.paymentId === undefined || origin.channel !== 'api') return toChargeResult(record, true);
    // Stripe unavailable: the answer is still the ledger's, without the secret (the client may ask again).
    const clientSecret = await payments.clientSecretOf(record.paymentId).catch((error: unknown) => {
      if (error instanceof PaymentProviderError) return undefined;
      throw error;
    });
    return toChargeResult(record, true, clientSecret);
  }

  async function chargeOrder(order: ChargeRequest): Promise<ChargeResult> {
    const { result, recorded } = await chargeOpened(order, await open(order).opened);
    await recorded;
    return result;
  }
  return Object.assign(chargeOrder, { open, chargeOpened, withdraw });
}

/** An answer with nothing left to write. */
const settled = (result: ChargeResult): ChargeAnswer => ({ result, recorded: Promise.resolve() });

export type ChargeOrder = ReturnType<typeof createChargeOrder>;

/** Stripe's answer as a versioned ledger fact (the client secret is never stored). */
export function ledgerFact({ clientSecret: _secret, paymentCreated, ...fact }: PaymentAttempt): LedgerFact {
  return paymentCreated === undefined ? fact : { ...fact, factVersion: factVersion(paymentCreated, fact.status) };
}

const conflictingFields = (record: LedgerRecord, order: ChargeRequest) => PAYMENT_IDENTITY_FIELDS.filter((field) => record[field] !== order[field]);

/** The fields pendingRecordOf takes from the request and its origin: equal, taking up the record changes nothing Stripe or the reconciler sees. */
const REQUEST_FIELDS = ['amount', 'currency', 'paymentMethod', 'customerId', 'description', 'personalDataKept', 'channel', 'namespace'] as const;
const sameRequest = (record: LedgerRecord, pending: LedgerRecord) => REQUEST_FIELDS.every((field) => record[field] === pending[field]);

function assertSamePayment(record: LedgerRecord, order: ChargeRequest): void {
  const conflicting = conflictingFields(record, order);
  if (conflicting.length > 0) throw new OrderConflictError(order.orderId, conflicting);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A new order's `pending` record, its first attempt starting now: every request field that is sent
 * to Stripe is stored here (request-fields.ts), because every attempt's Stripe request is rebuilt from it.
 */
export function pendingRecordOf(order: ChargeRequest, { channel, namespace }: OrderOrigin, now: string, attemptId = crypto.randomUUID()): NewRecord {
  return {
    orderId: order.orderId,
    status: 'pending',
    amount: order.amount,
    currency: order.currency,
    ...(order.paymentMethod !== undefined && { paymentMethod: order.paymentMethod }),
    ...(order.customerId !== undefined && { customerId: order.customerId }),
    ...(order.description !== undefined && { description: order.description }),
    ...(Object.keys(personalDataOf(order)).length > 0 && { personalDataKept: true }),
    channel,
    // Records made before namespaces stay without one (BEFORE_NAMESPACES); a new one always has it.
    ...(namespace !== BEFORE_NAMESPACES && { namespace }),
    attemptAt: now,
    attemptId,
    createdAt: now,
    updatedAt: now,
  };
}

function toChargeResult(record: LedgerRecord, replayed: boolean, clientSecret?: string): ChargeResult {
  return {
    orderId: record.orderId,
    status: record.status as FinalStatus,
    amount: record.amount,
    currency: record.currency,
    paymentId: record.paymentId ?? null,
    paymentStatus: record.paymentStatus ?? null,
    declineCode: record.declineCode ?? null,
    clientSecret: record.status === 'requires_action' ? (clientSecret ?? null) : null,
    replayed,
  };
}
