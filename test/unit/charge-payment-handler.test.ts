import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { IdempotentCharge } from '../../lambdas/adapters/idempotent-use-cases';
import { MAX_REQUEST_BODY_BYTES } from '../../lambdas/contract/payment-request';
import { PaymentProviderError } from '../../lambdas/core/errors';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { lambdaContext } from '../../local/lambda-context';
import { chargeResult } from '../support/charge-results';

const silent = new Logger({ logLevel: 'SILENT' });

function event(body: string | null, isBase64Encoded = false): APIGatewayProxyEvent {
  return { body, isBase64Encoded, httpMethod: 'POST', path: '/payments', headers: {} } as unknown as APIGatewayProxyEvent;
}

function recordingCharge(outcome: () => ReturnType<IdempotentCharge>) {
  const calls: Parameters<IdempotentCharge>[] = [];
  const charge: IdempotentCharge = (...args) => {
    calls.push(args);
    return outcome();
  };
  return { charge, calls };
}

const charged = async () => chargeResult();

describe('charge payment handler', () => {
  it('passes the validated, normalised request and the Lambda context to the charge', async () => {
    const { charge, calls } = recordingCharge(charged);
    const context = lambdaContext();
    const response = await createChargePaymentHandler(charge, silent)(event('{"orderId":"o-1","amount":100,"currency":"EUR"}'), context);
    expect(response.statusCode).toBe(201);
    expect(calls).toEqual([[{ orderId: 'o-1', amount: 100, currency: 'eur' }, context]]);
  });

  it('decodes a base64-encoded body', async () => {
    const { charge, calls } = recordingCharge(charged);
    const body = Buffer.from('{"orderId":"o-1","amount":100,"currency":"eur"}').toString('base64');
    await createChargePaymentHandler(charge, silent)(event(body, true), lambdaContext());
    expect(calls).toHaveLength(1);
  });

  it('answers 413 for a body over the limit and charges nothing', async () => {
    const { charge, calls } = recordingCharge(charged);
    const body = JSON.stringify({ orderId: 'o-1', amount: 100, currency: 'eur', description: 'x'.repeat(MAX_REQUEST_BODY_BYTES) });
    const response = await createChargePaymentHandler(charge, silent)(event(body), lambdaContext());
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(response.body).error.code).toBe('payload_too_large');
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['malformed JSON', '{"orderId": "o-1",', 'body'],
    ['a missing body', null, 'body'],
    ['a bad amount', '{"orderId":"o-1","amount":0,"currency":"eur"}', 'amount'],
  ])('answers 400 for %s, names the field and charges nothing', async (_case, body, field) => {
    const { charge, calls } = recordingCharge(charged);
    const response = await createChargePaymentHandler(charge, silent)(event(body), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error.details[0].field).toBe(field);
    expect(calls).toHaveLength(0);
  });

  it('maps a failure of the charge to the contract', async () => {
    const { charge } = recordingCharge(() => Promise.reject(new PaymentProviderError('down', true)));
    const response = await createChargePaymentHandler(charge, silent)(event('{"orderId":"o-1","amount":100,"currency":"eur"}'), lambdaContext());
    expect(response.statusCode).toBe(502);
  });
});
