import Stripe from 'stripe';
import { PaymentProviderError, PaymentRejectedError } from '../../lambdas/core/errors';
import { errorSummary } from '../../lambdas/handlers/error-summary';

const stripeError = new Stripe.errors.StripeInvalidRequestError({
  type: 'invalid_request_error',
  code: 'resource_missing',
  param: 'payment_method',
  message: 'No such PaymentMethod for jane@example.com',
  statusCode: 400,
  requestId: 'req_123',
  payment_intent: { client_secret: 'pi_1_secret_2' },
} as never);

describe('errorSummary', () => {
  it("keeps our own message and code, and Stripe's type, code, param, status and request id", () => {
    expect(errorSummary(new PaymentRejectedError('paymentMethod', 'resource_missing', { cause: stripeError }))).toEqual({
      name: 'PaymentRejectedError < StripeInvalidRequestError',
      message: 'the payment provider refused paymentMethod (resource_missing)',
      code: 'resource_missing',
      field: 'paymentMethod',
      stripeType: 'invalid_request_error',
      stripeCode: 'resource_missing',
      stripeParam: 'payment_method',
      stripeStatusCode: 400,
      stripeRequestId: 'req_123',
    });
  });

  it('drops the messages of errors that are not ours, and everything else they carry', () => {
    const summary = JSON.stringify(errorSummary(new PaymentProviderError('payment provider unavailable', true, { cause: stripeError })));
    expect(summary).not.toContain('jane@example.com');
    expect(summary).not.toContain('secret');
    expect(errorSummary(new URIError('URI malformed: x\udc00'))).toEqual({ name: 'URIError' });
  });

  it('keeps the status and request id of an AWS SDK error', () => {
    const aws = Object.assign(new Error('Item {"clientSecret":"pi_1_secret_2"}'), {
      name: 'ConditionalCheckFailedException',
      $metadata: { httpStatusCode: 400, requestId: 'AWS123' },
    });
    expect(errorSummary(aws)).toEqual({ name: 'ConditionalCheckFailedException', awsStatusCode: 400, awsRequestId: 'AWS123' });
  });

  it('summarises a thrown value that is not an Error', () => {
    expect(errorSummary('sk_test_123')).toEqual({ name: 'string' });
  });
});
