import Ajv from 'ajv';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { type GatewayResponse, gatewayResponses } from '../lambdas/contract/gateway-responses';
import { chargeRequestSchema } from '../lambdas/contract/payment-request';
import type { Throttle } from '../lambdas/contract/stripe-budget';
import { renderTemplate } from './mapping-templates';

/**
 * What API Gateway itself does in front of `POST /payments/async`, where no Lambda runs: the
 * content type and the request model are checked, and its own answers come from the deployed
 * gateway responses.
 */

/** A request with no Content-Type counts as JSON; any other type finds no mapping template (PassthroughBehavior NEVER): 415. */
export function hasJsonBody(contentType: string | undefined): boolean {
  return contentType === undefined || contentType.split(';')[0].trim().toLowerCase() === 'application/json';
}

// API Gateway validates against the model (JSON Schema draft 4); Ajv reads the keywords the schema uses alike.
const { $schema: _draft4, ...requestModel } = chargeRequestSchema;
const matchesModel = new Ajv().compile(requestModel);

/** The request model's check: well-formed JSON that the schema accepts (its complaint is not told: see gateway-responses.ts). */
export function matchesRequestModel(body: string): boolean {
  try {
    return matchesModel(JSON.parse(body));
  } catch {
    return false;
  }
}

/** API Gateway's own answer of a response type, with that type's status where the gateway response sets none. */
export function gatewayAnswer(type: GatewayResponse['type'], typeStatusCode: number, message: string, requestId: string): APIGatewayProxyResult {
  const response = gatewayResponses.find((candidate) => candidate.type === type) as GatewayResponse;
  return {
    statusCode: response.statusCode ?? typeStatusCode,
    ...(response.headers !== undefined && { headers: response.headers }),
    body: renderTemplate(response.template, { body: '', requestId, errorMessage: message }),
  };
}

/**
 * API Gateway's throttle, a token bucket: `burstLimit` requests at once, refilled at `rateLimit` a
 * second; a request that finds it empty is refused. (Bottleneck queues what it cannot run yet;
 * API Gateway refuses it at once.)
 */
export function tokenBucket({ rateLimit, burstLimit }: Throttle, now: () => number = () => performance.now()): () => boolean {
  let tokens = burstLimit;
  let refilledAt = now();
  return () => {
    const at = now();
    tokens = Math.min(burstLimit, tokens + ((at - refilledAt) / 1000) * rateLimit);
    refilledAt = at;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}
