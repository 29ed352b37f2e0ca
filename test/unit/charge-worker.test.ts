import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent } from 'aws-lambda';
import type { DeadLetter, PermanentFailure, ReceivedMessage } from '../../lambdas/adapters/dead-letter-queue';
import type { IdempotentCharge } from '../../lambdas/adapters/idempotent-use-cases';
import type { RateLimitedMessage, RetryLater, SendAgainLater } from '../../lambdas/adapters/queue-retries';
import { RATE_LIMITED_ATTRIBUTES } from '../../lambdas/contract/queues';
import type { ChargeResult } from '../../lambdas/core/charge-order';
import {
  OrderConflictError,
  PaymentInProgressError,
  PaymentProviderError,
  PaymentProviderRateLimitedError,
  PaymentRejectedError,
  StoreUnavailableError,
} from '../../lambdas/core/errors';
import { createChargeWorkerHandler } from '../../lambdas/handlers/charge-worker';
import { lambdaContext } from '../../local/lambda-context';
import { capturedLogger } from '../support/captured-logs';
import { chargeResult } from '../support/charge-results';
import { sqsRecord } from '../support/sqs-records';

const silent = new Logger({ logLevel: 'SILENT' });

const record = sqsRecord;

const result = (orderId: string, status: ChargeResult['status'] = 'charged') => chargeResult({ orderId, status });

/**
 * A charge whose outcome per orderId is given by the test, a dead-letter queue that records, and a
 * queue that records what is sent again (resolving to `sentAgainIn`: undefined past the ride-out).
 */
function worker(outcomes: Record<string, () => Promise<ChargeResult>>, sentAgainIn: () => Promise<number | undefined> = async () => 2, logger = silent) {
  const charged: string[] = [];
  const deadLettered: Array<{ message: ReceivedMessage; failure: PermanentFailure }> = [];
  const charge: IdempotentCharge = async (order) => {
    charged.push(order.orderId);
    return outcomes[order.orderId]();
  };
  const deadLetter: DeadLetter = async (message, failure) => void deadLettered.push({ message, failure });
  const delayed: Array<{ receiptHandle: string; receiveCount: number }> = [];
  const retryLater: RetryLater = async (message) => {
    delayed.push(message);
    return 7;
  };
  const sentAgain: RateLimitedMessage[] = [];
  const sendAgainLater: SendAgainLater = async (message) => {
    sentAgain.push(message);
    return sentAgainIn();
  };
  return { handler: createChargeWorkerHandler({ charge, deadLetter, retryLater, sendAgainLater }, logger), charged, deadLettered, delayed, sentAgain };
}

const order = (orderId: string) => ({ orderId, amount: 100, currency: 'eur', paymentMethod: 'pm_card_visa' });

describe('charge worker', () => {
  it('reports exactly the transient failures, each delayed by its receive count first, so SQS retries those and deletes the rest', async () => {
    const { handler, charged, delayed } = worker({
      ok: async () => result('ok'),
      declined: async () => result('declined', 'declined'),
      stripeDown: async () => Promise.reject(new PaymentProviderError('down', true)),
      storeDown: async () => Promise.reject(new StoreUnavailableError('throttled')),
      inProgress: async () => Promise.reject(Object.assign(new Error('busy'), { name: 'IdempotencyAlreadyInProgressError' })),
      stripeBusy: async () => Promise.reject(new PaymentInProgressError()),
    });
    const event: SQSEvent = { Records: ['ok', 'declined', 'stripeDown', 'storeDown', 'inProgress', 'stripeBusy'].map((id) => record(id, order(id), '3')) };
    const response = await handler(event, lambdaContext());
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(['inProgress', 'storeDown', 'stripeBusy', 'stripeDown']);
    expect(charged).toHaveLength(6);
    expect(delayed.sort((a, b) => a.receiptHandle.localeCompare(b.receiptHandle))).toEqual(
      ['inProgress', 'storeDown', 'stripeBusy', 'stripeDown'].map((id) => ({ receiptHandle: `handle-${id}`, receiveCount: 3 })),
    );
  });

  it('still reports the failure when the delay cannot be set: SQS redelivers after the visibility timeout', async () => {
    const charge: IdempotentCharge = async () => Promise.reject(new PaymentProviderError('down', true));
    const retryLater: RetryLater = async () => Promise.reject(new Error('SQS throttled'));
    const handler = createChargeWorkerHandler({ charge, deadLetter: async () => undefined, retryLater, sendAgainLater: async () => 1 }, silent);
    const response = await handler({ Records: [record('m1', order('o'))] }, lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
  });

  it.each([
    ['a reused orderId', new OrderConflictError('o', ['amount']), 'idempotency_key_reused'],
    ['a Powertools payload mismatch', Object.assign(new Error('mismatch'), { name: 'IdempotencyValidationError' }), 'idempotency_key_reused'],
    ['a payment Stripe refused', new PaymentRejectedError('paymentMethod', 'resource_missing'), 'payment_rejected'],
  ])('dead-letters %s at once, with the reason, without failing the batch', async (_case, error, code) => {
    const { handler, deadLettered } = worker({ poison: async () => Promise.reject(error), fine: async () => result('fine') });
    const response = await handler({ Records: [record('m1', order('poison'), '1'), record('m2', order('fine'))] }, lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(deadLettered).toEqual([
      { message: { body: JSON.stringify(order('poison')), messageId: 'm1', receiveCount: '1' }, failure: expect.objectContaining({ code }) },
    ]);
  });

  it('dead-letters a body that is not a charge request without charging anything', async () => {
    const { handler, charged, deadLettered } = worker({});
    const response = await handler({ Records: [record('m1', 'not json'), record('m2', { orderId: 'x' })] }, lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(charged).toEqual([]);
    expect(deadLettered.map(({ failure }) => failure)).toEqual([
      { code: 'invalid_request', reason: 'body is not valid JSON' },
      { code: 'invalid_request', reason: 'amount is required; currency is required' },
    ]);
  });

  it('retries the record when dead-lettering it fails, rather than losing it', async () => {
    const charge: IdempotentCharge = async () => Promise.reject(new OrderConflictError('o', ['amount']));
    const handler = createChargeWorkerHandler(
      { charge, deadLetter: async () => Promise.reject(new Error('SQS down')), retryLater: async () => 1, sendAgainLater: async () => 1 },
      silent,
    );
    const response = await handler({ Records: [record('m1', order('o'))] }, lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
  });

  describe('a charge Stripe rate limited', () => {
    const rateLimited = async () => Promise.reject(new PaymentProviderRateLimitedError('global-rate'));
    const since = (at: string) => ({
      [RATE_LIMITED_ATTRIBUTES.firstRateLimitedAt]: { dataType: 'Number', stringValue: at, stringListValues: [], binaryListValues: [] },
    });

    it('is sent again with its body and when it was first rate limited, and its record reported done: no receive is spent', async () => {
      const { handler, sentAgain, delayed } = worker({ limited: rateLimited, again: rateLimited });
      const again = { ...record('m2', order('again'), '1'), messageAttributes: since('1700000000000') };
      const response = await handler({ Records: [record('m1', order('limited'), '4'), again] }, lambdaContext());
      expect(response.batchItemFailures).toEqual([]);
      expect(delayed).toEqual([]);
      expect(sentAgain).toEqual([
        { body: JSON.stringify(order('limited')), firstRateLimitedAt: undefined },
        { body: JSON.stringify(order('again')), firstRateLimitedAt: '1700000000000' },
      ]);
    });

    it('spends a receive, as any transient failure, once it has been rate limited past the ride-out', async () => {
      const { handler, delayed } = worker({ limited: rateLimited }, async () => undefined);
      const response = await handler({ Records: [record('m1', order('limited'), '2')] }, lambdaContext());
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
      expect(delayed).toEqual([{ receiptHandle: 'handle-m1', receiveCount: 2 }]);
    });

    it('spends a receive when it cannot be sent again, rather than being lost', async () => {
      const { handler, delayed } = worker({ limited: rateLimited }, async () => Promise.reject(new Error('SQS throttled')));
      const response = await handler({ Records: [record('m1', order('limited'))] }, lambdaContext());
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
      expect(delayed).toHaveLength(1);
    });

    it('is not sent again when Stripe merely failed: that spends a receive as before', async () => {
      const { handler, sentAgain } = worker({ down: async () => Promise.reject(new PaymentProviderError('down', true)) });
      const response = await handler({ Records: [record('m1', order('down'))] }, lambdaContext());
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
      expect(sentAgain).toEqual([]);
    });

    it("logs Stripe's reason and the delay", async () => {
      const logs = capturedLogger();
      try {
        await worker({ limited: rateLimited }, async () => 3, logs.logger).handler({ Records: [record('m1', order('limited'))] }, lambdaContext());
      } finally {
        logs.restore();
      }
      expect(logs.entries()).toContainEqual(expect.objectContaining({ orderId: 'limited', reason: 'global-rate', sentAgainIn: 3 }));
    });
  });
});
