import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent } from 'aws-lambda';
import type { DeadLetter, PermanentFailure, ReceivedMessage } from '../../lambdas/adapters/dead-letter-queue';
import type { IdempotentCharge } from '../../lambdas/adapters/idempotent-use-cases';
import type { RetryLater } from '../../lambdas/adapters/queue-retries';
import type { ChargeResult } from '../../lambdas/core/charge-order';
import { OrderConflictError, PaymentInProgressError, PaymentProviderError, PaymentRejectedError, StoreUnavailableError } from '../../lambdas/core/errors';
import { createChargeWorkerHandler } from '../../lambdas/handlers/charge-worker';
import { lambdaContext } from '../../local/lambda-context';
import { chargeResult } from '../support/charge-results';
import { sqsRecord } from '../support/sqs-records';

const silent = new Logger({ logLevel: 'SILENT' });

const record = sqsRecord;

const result = (orderId: string, status: ChargeResult['status'] = 'charged') => chargeResult({ orderId, status });

/** A charge whose outcome per orderId is given by the test, and a dead-letter queue that records. */
function worker(outcomes: Record<string, () => Promise<ChargeResult>>) {
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
  return { handler: createChargeWorkerHandler({ charge, deadLetter, retryLater }, silent), charged, deadLettered, delayed };
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
    const handler = createChargeWorkerHandler({ charge, deadLetter: async () => undefined, retryLater }, silent);
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
    const handler = createChargeWorkerHandler({ charge, deadLetter: async () => Promise.reject(new Error('SQS down')), retryLater: async () => 1 }, silent);
    const response = await handler({ Records: [record('m1', order('o'))] }, lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
  });
});
