import { RATE_LIMITED_RETRY_AFTER_SECONDS } from '../../lambdas/contract/settings';
import {
  OrderConflictError,
  PaymentInProgressError,
  PaymentProviderError,
  PaymentProviderRateLimitedError,
  PaymentRejectedError,
  StoreUnavailableError,
} from '../../lambdas/core/errors';
import { chargeResponse, failureResponse, invalidRequest } from '../../lambdas/handlers/http-responses';
import { chargeResult } from '../support/charge-results';

const charged = chargeResult({ orderId: 'order-1', amount: 1999 });

function named(name: string): Error {
  const error = new Error('internal detail: table arn:aws:dynamodb:...');
  error.name = name;
  return error;
}

describe('chargeResponse', () => {
  it('answers the first charge with 201 and status "charged"', () => {
    const response = chargeResponse(charged);
    expect(response.statusCode).toBe(201);
    expect(response.headers).not.toHaveProperty('Idempotent-Replayed');
    expect(JSON.parse(response.body)).toEqual({
      orderId: 'order-1',
      paymentId: 'pi_1',
      amount: 1999,
      currency: 'eur',
      paymentStatus: 'succeeded',
      status: 'charged',
    });
  });

  it('adds the client secret only when the customer must act', () => {
    expect(JSON.parse(chargeResponse(charged).body)).not.toHaveProperty('clientSecret');
    const pending = chargeResponse({ ...charged, status: 'requires_action', paymentStatus: 'requires_payment_method', clientSecret: 'pi_1_secret_x' });
    expect(JSON.parse(pending.body)).toMatchObject({ status: 'requires_action', clientSecret: 'pi_1_secret_x' });
  });

  it('answers a replay with 200, Idempotent-Replayed and status "already_processed"', () => {
    const response = chargeResponse({ ...charged, replayed: true });
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'Idempotent-Replayed': 'true' });
    expect(JSON.parse(response.body)).toMatchObject({ status: 'already_processed', paymentId: 'pi_1' });
  });

  it('answers a decline with 402 card_declined, first time and replayed', () => {
    const declined = { ...charged, status: 'declined' as const, declineCode: 'insufficient_funds', paymentStatus: 'requires_payment_method' };
    for (const replayed of [false, true]) {
      const response = chargeResponse({ ...declined, replayed });
      expect(response.statusCode).toBe(402);
      expect(JSON.parse(response.body)).toEqual({
        error: {
          code: 'card_declined',
          message: 'the card was declined',
          details: {
            orderId: 'order-1',
            paymentId: 'pi_1',
            amount: 1999,
            currency: 'eur',
            paymentStatus: 'requires_payment_method',
            declineCode: 'insufficient_funds',
          },
        },
      });
    }
  });
});

describe('failureResponse', () => {
  it.each([
    ['IdempotencyAlreadyInProgressError', named('IdempotencyAlreadyInProgressError'), 409, 'idempotency_key_in_use'],
    ['PaymentInProgressError', new PaymentInProgressError(), 409, 'idempotency_key_in_use'],
    ['PaymentRejectedError', new PaymentRejectedError('paymentMethod', 'resource_missing'), 400, 'invalid_request'],
    ['IdempotencyValidationError', named('IdempotencyValidationError'), 422, 'idempotency_key_reused'],
    ['OrderConflictError', new OrderConflictError('order-1', ['amount']), 422, 'idempotency_key_reused'],
    ['PaymentProviderError', new PaymentProviderError('stripe down', true), 502, 'payment_provider_unavailable'],
    ['PaymentProviderRateLimitedError', new PaymentProviderRateLimitedError('global-rate'), 429, 'payment_provider_rate_limited'],
    ['IdempotencyPersistenceLayerError', named('IdempotencyPersistenceLayerError'), 503, 'store_unavailable'],
    ['StoreUnavailableError', new StoreUnavailableError('ledger down'), 503, 'store_unavailable'],
    ['an unknown error', named('TypeError'), 500, 'internal_error'],
  ])('maps %s to %i %s without leaking its message', (_name, error, status, code) => {
    const response = failureResponse(error);
    expect(response.statusCode).toBe(status);
    const body = JSON.parse(response.body);
    expect(body.error.code).toBe(code);
    expect(response.body).not.toMatch(/internal detail|stripe down|ledger down|arn:aws|at .*\.ts/);
  });

  it('tells a client when to retry an order that is in progress, here or at Stripe', () => {
    expect(failureResponse(named('IdempotencyAlreadyInProgressError')).headers).toMatchObject({ 'Retry-After': '2' });
    expect(failureResponse(new PaymentInProgressError()).headers).toMatchObject({ 'Retry-After': '2' });
  });

  it('tells a client Stripe rate limited when to come back, and that the same orderId is safe, never as a 502', () => {
    const response = failureResponse(new PaymentProviderRateLimitedError(undefined));
    expect(response.statusCode).toBe(429);
    expect(response.headers).toMatchObject({ 'Retry-After': String(RATE_LIMITED_RETRY_AFTER_SECONDS) });
    expect(JSON.parse(response.body).error.message).toContain('retrying with the same orderId');
  });

  it('names the field Stripe refused', () => {
    const body = JSON.parse(failureResponse(new PaymentRejectedError('customerId', 'resource_missing')).body);
    expect(body.error.details).toEqual([{ field: 'customerId', message: 'was refused by the payment provider (resource_missing)' }]);
  });
});

describe('invalidRequest', () => {
  it('answers 400 invalid_request naming each offending field', () => {
    const response = invalidRequest([
      { field: 'amount', message: 'must be at least 1' },
      { field: 'currency', message: 'is required' },
    ]);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: 'invalid_request',
        message: 'amount must be at least 1; currency is required',
        details: [
          { field: 'amount', message: 'must be at least 1' },
          { field: 'currency', message: 'is required' },
        ],
      },
    });
  });
});
