import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeadLetter, PermanentFailure } from '../adapters/dead-letter-queue';
import type { IdempotentCharge } from '../adapters/idempotent-use-cases';
import type { RetryLater, SendAgainLater } from '../adapters/queue-retries';
import { METRIC_NAMES, SERVICE_NAME } from '../contract/environment';
import { RATE_LIMITED_ATTRIBUTES } from '../contract/queues';
import { describeFieldErrors, parseChargeRequest } from '../core/validate-request';
import { errorSummary } from './error-summary';
import { countOutcome, publishCounts, resultOutcome, serviceMetrics } from './outcome-metrics';

export type QueueHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Failures that no retry can fix. Everything else (Stripe unavailable, DynamoDB throttled, the
 * order in progress elsewhere; Stripe's rate limit when it is not sent again) is reported as a
 * batch item failure and retried by SQS.
 */
function permanentFailure(error: unknown): PermanentFailure | undefined {
  const name = error instanceof Error ? error.name : '';
  if (name === 'IdempotencyValidationError' || name === 'OrderConflictError') {
    return { code: 'idempotency_key_reused', reason: 'this orderId was already used with different payment details' };
  }
  if (name === 'PaymentRejectedError') return { code: 'payment_rejected', reason: (error as Error).message };
  return undefined;
}

/** Stripe's rate limit (the adapters' PaymentProviderRateLimitedError), recognised by name as every failure here is. */
function rateLimitedReason(error: unknown): { reason?: string } | undefined {
  return error instanceof Error && error.name === 'PaymentProviderRateLimitedError' ? { reason: (error as { reason?: string }).reason } : undefined;
}

export interface ChargeWorkerDependencies {
  charge: IdempotentCharge;
  deadLetter: DeadLetter;
  retryLater: RetryLater;
  sendAgainLater: SendAgainLater;
}

/**
 * The SQS worker: each record is charged through the same idempotent use case as POST /payments,
 * keyed on the orderId in the body (never the messageId: a redriven message gets a new one).
 * A decline is a final ledger state, not a failure; a message that can never succeed goes to the
 * dead-letter queue at once with its reason instead of burning its receives; a transient failure
 * is retried after a growing delay (queues.ts), set on the message before it is reported failed.
 * A charge Stripe rate limited is sent to the queue again, delayed, and the record reported done:
 * waiting for Stripe's budget does not spend the receives that lead to the dead-letter queue.
 */
export function createChargeWorkerHandler(
  { charge, deadLetter, retryLater, sendAgainLater }: ChargeWorkerDependencies,
  logger = new Logger({ serviceName: SERVICE_NAME }),
  metrics = serviceMetrics(),
): QueueHandler {
  /** A dead letter counts once, by its failure code (a handful of values, never an id). */
  const countDeadLetter = (code: string) => {
    const single = metrics.singleMetric();
    single.addDimension('failureCode', code);
    countOutcome(single, METRIC_NAMES.deadLettered);
  };
  /**
   * A charge Stripe rate limited goes back on the queue, delayed, unless it has been rate limited for
   * too long or the send fails: true when it did, and the record is then done.
   */
  const sentAgainWhenRateLimited = async (record: SQSRecord, orderId: string, error: unknown, log: Logger): Promise<boolean> => {
    const rateLimited = rateLimitedReason(error);
    if (rateLimited === undefined) return false;
    countOutcome(metrics, METRIC_NAMES.providerRateLimited);
    // Safe to send twice: the charge is idempotent on the orderId in the body, so a duplicate
    // (this record also redelivered, if SQS fails to delete it) is answered without a second charge.
    const firstRateLimitedAt = record.messageAttributes[RATE_LIMITED_ATTRIBUTES.firstRateLimitedAt]?.stringValue;
    const sentAgainIn = await sendAgainLater({ body: record.body, firstRateLimitedAt }).catch((sendError: unknown) => {
      log.warn('could not send the rate-limited message again; it spends a receive instead', { orderId, error: errorSummary(sendError) });
      return undefined;
    });
    if (sentAgainIn !== undefined) log.warn('Stripe rate limited the charge; sent the message again, delayed', { orderId, ...rateLimited, sentAgainIn });
    return sentAgainIn !== undefined;
  };
  return async (event, context) => {
    metrics.captureColdStartMetric();
    // One processor per invocation: it holds the batch's state, and local runs may overlap.
    const processor = new BatchProcessor(EventType.SQS);
    logger.addContext(context);
    const chargeRecord = async (record: SQSRecord): Promise<void> => {
      const log = logger.createChild({ persistentKeys: { messageId: record.messageId } });
      const receiveCount = record.attributes.ApproximateReceiveCount;
      const received = { body: record.body, messageId: record.messageId, receiveCount };
      const request = parseChargeRequest(record.body);
      if (!request.ok) {
        const reason = describeFieldErrors(request.errors);
        log.error('dead-lettering an invalid message', { reason });
        await deadLetter(received, { code: 'invalid_request', reason });
        return countDeadLetter('invalid_request');
      }
      const { orderId } = request.value;
      try {
        const result = await charge(request.value, context);
        log.info('charge finished', { orderId, status: result.status, replayed: result.replayed, paymentId: result.paymentId });
        countOutcome(metrics, resultOutcome(result));
      } catch (error) {
        if (await sentAgainWhenRateLimited(record, orderId, error, log)) return;
        const failure = permanentFailure(error);
        if (failure === undefined) {
          // If the delay cannot be set, the message simply comes back after the queue's visibility timeout.
          const retryInSeconds = await retryLater({ receiptHandle: record.receiptHandle, receiveCount: Number(receiveCount) }).catch((delayError: unknown) => {
            log.warn('could not delay the retry; SQS redelivers after the visibility timeout', { orderId, error: errorSummary(delayError) });
            return undefined;
          });
          log.warn('charge failed, SQS will retry', { orderId, receiveCount, retryInSeconds, error: errorSummary(error) });
          countOutcome(metrics, METRIC_NAMES.queueRetry);
          throw error;
        }
        log.error('dead-lettering a message that cannot succeed', { orderId, ...failure, error: errorSummary(error) });
        await deadLetter(received, failure);
        countDeadLetter(failure.code);
      }
    };
    try {
      return await processPartialResponse(event, chargeRecord, processor, { context, throwOnFullBatchFailure: false });
    } finally {
      publishCounts(metrics);
    }
  };
}
