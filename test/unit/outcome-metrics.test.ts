import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { IdempotentCharge, IdempotentRefund } from '../../lambdas/adapters/idempotent-use-cases';
import type { DeliveryOutcome } from '../../lambdas/adapters/stripe-webhooks';
import { METRIC_NAMES, METRICS_NAMESPACE, type MetricName } from '../../lambdas/contract/environment';
import type { ChargeResult } from '../../lambdas/core/charge-order';
import {
  OrderConflictError,
  OrderNotFoundError,
  OrderNotRefundableError,
  PaymentInProgressError,
  PaymentProviderError,
  PaymentProviderRateLimitedError,
  PaymentRejectedError,
  RefundExceedsPaymentError,
  StoreUnavailableError,
} from '../../lambdas/core/errors';
import type { ReconcileSummary } from '../../lambdas/core/reconcile-pending';
import type { ReconcileRefundsSummary } from '../../lambdas/core/reconcile-refunds';
import type { RefundResult } from '../../lambdas/core/refund-order';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { createChargeWorkerHandler } from '../../lambdas/handlers/charge-worker';
import { serviceMetrics } from '../../lambdas/handlers/outcome-metrics';
import { createReconcileHandler } from '../../lambdas/handlers/reconcile-pending';
import { createRefundPaymentHandler } from '../../lambdas/handlers/refund-payment';
import { createStripeWebhookHandler } from '../../lambdas/handlers/stripe-webhook';
import { lambdaContext } from '../../local/lambda-context';
import { capturedLogger } from '../support/captured-logs';
import { CAPTURED_DEPLOYMENT, capturedMetrics, type EmfBlob } from '../support/captured-metrics';
import { chargeResult } from '../support/charge-results';
import { silentLogger } from '../support/local-parts';
import { sqsRecord } from '../support/sqs-records';

const result = chargeResult;
const post = (body: string) => ({ body, isBase64Encoded: false, httpMethod: 'POST', path: '/payments', headers: {} }) as unknown as APIGatewayProxyEvent;
const order = '{"orderId":"o-1","amount":100,"currency":"eur"}';

/** Runs one invocation with captured metrics; returns the outcome blobs (the cold start's apart). */
async function published(run: (metrics: ReturnType<typeof capturedMetrics>['metrics']) => Promise<unknown>): Promise<EmfBlob[]> {
  const captured = capturedMetrics();
  try {
    await run(captured.metrics).catch(() => undefined);
  } finally {
    captured.restore();
  }
  return captured.blobs().filter((blob) => !('ColdStart' in blob.metrics));
}

const only = (name: MetricName, value = 1) => [
  {
    metrics: { [name]: value },
    dimensions: [['service', 'deployment']],
    values: expect.objectContaining({
      service: 'payments',
      deployment: CAPTURED_DEPLOYMENT,
      _aws: expect.objectContaining({ CloudWatchMetrics: [expect.objectContaining({ Namespace: METRICS_NAMESPACE })] }),
    }),
  },
];

describe('POST /payments/{orderId}/refunds counts each answer as exactly one outcome', () => {
  const refunded = (fields: Partial<RefundResult> = {}): RefundResult => ({
    orderId: 'o-1',
    refundId: 'r-1',
    amount: 100,
    currency: 'eur',
    status: 'succeeded',
    stripeRefundId: 're_1',
    replayed: false,
    ...fields,
  });
  const refundPost = (body: string) => ({ ...post(body), pathParameters: { orderId: 'o-1' } }) as unknown as APIGatewayProxyEvent;
  it.each<[string, () => Promise<RefundResult>, MetricName]>([
    ['a refund', async () => refunded(), METRIC_NAMES.refundSucceeded],
    ['a pending refund', async () => refunded({ status: 'pending' }), METRIC_NAMES.refundPending],
    ['a refund that needs action', async () => refunded({ status: 'requires_action' }), METRIC_NAMES.refundPending],
    ['a failed refund', async () => refunded({ status: 'failed' }), METRIC_NAMES.refundFailed],
    ['a canceled refund', async () => refunded({ status: 'canceled' }), METRIC_NAMES.refundFailed],
    ['a replay', async () => refunded({ replayed: true, status: 'failed' }), METRIC_NAMES.refundReplayed],
    ['no such order (404)', async () => Promise.reject(new OrderNotFoundError('o-1')), METRIC_NAMES.refundRefused],
    ['an order never charged (409)', async () => Promise.reject(new OrderNotRefundableError('o-1', 'declined')), METRIC_NAMES.refundRefused],
    ['more than is left (422)', async () => Promise.reject(new RefundExceedsPaymentError('o-1', 0)), METRIC_NAMES.refundRefused],
    ['Stripe unavailable (502)', async () => Promise.reject(new PaymentProviderError('down', true)), METRIC_NAMES.providerUnavailable],
    ['Stripe rate limited (429)', async () => Promise.reject(new PaymentProviderRateLimitedError('global-rate')), METRIC_NAMES.providerRateLimited],
    ['a refund in progress (409)', async () => Promise.reject(new PaymentInProgressError()), METRIC_NAMES.inProgress],
  ])('%s', async (_case, outcome, metric) => {
    const refund: IdempotentRefund = outcome;
    expect(await published((metrics) => createRefundPaymentHandler(refund, silentLogger, metrics)(refundPost('{"refundId":"r-1"}'), lambdaContext()))).toEqual(
      only(metric),
    );
  });
});

describe('POST /payments counts each answer as exactly one outcome, with no order in its dimensions', () => {
  it.each<[string, () => Promise<ChargeResult>, MetricName]>([
    ['a charge', async () => result(), METRIC_NAMES.charged],
    ['a payment that needs the customer', async () => result({ status: 'requires_action', clientSecret: 'pi_1_secret' }), METRIC_NAMES.requiresAction],
    ['a canceled payment', async () => result({ status: 'canceled' }), METRIC_NAMES.canceled],
    ['a decline', async () => result({ status: 'declined', declineCode: 'generic_decline' }), METRIC_NAMES.declined],
    ['a replay', async () => result({ replayed: true }), METRIC_NAMES.replayed],
    ['a replayed decline', async () => result({ status: 'declined', replayed: true }), METRIC_NAMES.replayed],
    ['an order in progress (409)', async () => Promise.reject(new PaymentInProgressError()), METRIC_NAMES.inProgress],
    ['a reused orderId (422)', async () => Promise.reject(new OrderConflictError('o-1', ['amount'])), METRIC_NAMES.keyReused],
    ['a field Stripe refused (400)', async () => Promise.reject(new PaymentRejectedError('paymentMethod', 'resource_missing')), METRIC_NAMES.invalidRequest],
    ['Stripe unavailable (502)', async () => Promise.reject(new PaymentProviderError('down', true)), METRIC_NAMES.providerUnavailable],
    ['Stripe rate limited (429)', async () => Promise.reject(new PaymentProviderRateLimitedError(undefined)), METRIC_NAMES.providerRateLimited],
    ['DynamoDB unavailable (503)', async () => Promise.reject(new StoreUnavailableError('throttled')), METRIC_NAMES.storeUnavailable],
    ['a bug (500)', async () => Promise.reject(new TypeError('oops')), METRIC_NAMES.internalError],
  ])('%s', async (_case, outcome, metric) => {
    const charge: IdempotentCharge = outcome;
    expect(await published((metrics) => createChargePaymentHandler(charge, silentLogger, metrics)(post(order), lambdaContext()))).toEqual(only(metric));
  });

  it('an invalid body (400)', async () => {
    const charge: IdempotentCharge = async () => result();
    expect(await published((metrics) => createChargePaymentHandler(charge, silentLogger, metrics)(post('{"orderId":'), lambdaContext()))).toEqual(
      only(METRIC_NAMES.invalidRequest),
    );
  });

  it('and its first invocation counts a cold start', async () => {
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand'; // what Lambda says of an environment it starts for a request
    const captured = capturedMetrics();
    delete process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
    try {
      const handler = createChargePaymentHandler(async () => result(), silentLogger, captured.metrics);
      await handler(post(order), lambdaContext());
      await handler(post(order), lambdaContext());
    } finally {
      captured.restore();
    }
    expect(captured.blobs().filter((blob) => 'ColdStart' in blob.metrics)).toHaveLength(1);
  });
});

describe("the queue worker counts each record's outcome, and a dead letter by its failure code", () => {
  it('charged, declined, retried, rate-limited and dead-lettered records of one batch', async () => {
    const outcomes: Record<string, () => Promise<ChargeResult>> = {
      ok: async () => result(),
      declined: async () => result({ status: 'declined' }),
      replay: async () => result({ replayed: true }),
      retry: async () => Promise.reject(new PaymentProviderError('down', true)),
      rateLimited: async () => Promise.reject(new PaymentProviderRateLimitedError('global-rate')),
      reused: async () => Promise.reject(new OrderConflictError('reused', ['amount'])),
    };
    const blobs = await published((metrics) =>
      createChargeWorkerHandler(
        {
          charge: async (request) => outcomes[request.orderId](),
          deadLetter: async () => undefined,
          retryLater: async () => 5,
          sendAgainLater: async () => 2,
        },
        silentLogger,
        metrics,
      )(
        { Records: [...Object.keys(outcomes).map((id) => sqsRecord(id, { orderId: id, amount: 100, currency: 'eur' })), sqsRecord('bad', 'not json')] },
        lambdaContext(),
      ),
    );
    const deadLetters = blobs.filter((blob) => METRIC_NAMES.deadLettered in blob.metrics);
    expect(deadLetters.map((blob) => [blob.dimensions, blob.values.failureCode]).sort()).toEqual([
      [[['service', 'deployment', 'failureCode']], 'idempotency_key_reused'],
      [[['service', 'deployment', 'failureCode']], 'invalid_request'],
    ]);
    const [batch] = blobs.filter((blob) => !(METRIC_NAMES.deadLettered in blob.metrics));
    expect(batch.metrics).toEqual({
      [METRIC_NAMES.charged]: 1,
      [METRIC_NAMES.declined]: 1,
      [METRIC_NAMES.replayed]: 1,
      [METRIC_NAMES.queueRetry]: 1,
      [METRIC_NAMES.providerRateLimited]: 1,
    });
    expect(batch.dimensions).toEqual([['service', 'deployment']]);
  });
});

describe("POST /webhooks/stripe counts each delivery's outcome", () => {
  const verify = async () => ({ id: 'evt_1', type: 'payment_intent.succeeded', created: 1, data: { object: {} } });
  const delivery = (headers: Record<string, string>) =>
    ({ body: '{}', isBase64Encoded: false, httpMethod: 'POST', path: '/webhooks/stripe', headers }) as unknown as APIGatewayProxyEvent;

  it.each<[DeliveryOutcome, MetricName]>([
    ['applied', METRIC_NAMES.webhookApplied],
    ['duplicate', METRIC_NAMES.webhookDuplicate],
    ['stale', METRIC_NAMES.webhookStale],
    ['conflict', METRIC_NAMES.webhookConflict],
    ['unknown_order', METRIC_NAMES.webhookUnknownOrder],
    ['ignored', METRIC_NAMES.webhookIgnored],
  ])('%s', async (outcome, metric) => {
    expect(
      await published((metrics) =>
        createStripeWebhookHandler(verify, async () => outcome, silentLogger, metrics)(delivery({ 'Stripe-Signature': 't=1,v1=x' }), lambdaContext()),
      ),
    ).toEqual(only(metric));
  });

  it('a delivery without a signature', async () => {
    expect(
      await published((metrics) => createStripeWebhookHandler(verify, async () => 'applied', silentLogger, metrics)(delivery({}), lambdaContext())),
    ).toEqual(only(METRIC_NAMES.webhookRejected));
  });
});

describe('the reconciler counts what it settled and expired, each run', () => {
  it('as two counts', async () => {
    const summary: ReconcileSummary = { examined: 5, settled: 3, expired: 1, leftAlone: 1, movedOn: 0, waiting: 0, failed: 0, unfinished: false };
    const refunds: ReconcileRefundsSummary = { examined: 4, settled: 2, released: 1, unchanged: 1, failed: 0, unfinished: false };
    const [blob] = await published((metrics) =>
      createReconcileHandler({ pending: async () => summary, refunds: async () => refunds }, silentLogger, metrics)({}, lambdaContext()),
    );
    expect(blob.metrics).toEqual({
      [METRIC_NAMES.reconcilerSettled]: 3,
      [METRIC_NAMES.reconcilerExpired]: 1,
      [METRIC_NAMES.reconcilerRefundsSettled]: 2,
      [METRIC_NAMES.reconcilerRefundsReleased]: 1,
    });
  });
});

describe('the deployment dimension in Lambda', () => {
  it("is the function's PAYMENTS_NAMESPACE, and a function without one does not start", () => {
    const [namespace, disabled] = [process.env.PAYMENTS_NAMESPACE, process.env.POWERTOOLS_METRICS_DISABLED];
    const output = capturedLogger();
    try {
      process.env.PAYMENTS_NAMESPACE = 'ExactlyOncePaymentsSandbox-123456789012-eu-west-1';
      delete process.env.POWERTOOLS_METRICS_DISABLED;
      const metrics = serviceMetrics();
      metrics.addMetric(METRIC_NAMES.charged, MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      expect(output.entries()).toEqual([expect.objectContaining({ service: 'payments', deployment: 'ExactlyOncePaymentsSandbox-123456789012-eu-west-1' })]);
      delete process.env.PAYMENTS_NAMESPACE;
      expect(() => serviceMetrics()).toThrow(/PAYMENTS_NAMESPACE is not set/);
    } finally {
      output.restore();
      process.env.PAYMENTS_NAMESPACE = namespace;
      process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    }
  });
});
