import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HTTP_HEADERS } from '../lambdas/contract/http-headers';
import { queueRequest, selectQueueResponse } from '../lambdas/contract/queue-integration';
import { type FunctionName, type Route, routes } from '../lambdas/contract/routes';
import type { Throttle } from '../lambdas/contract/stripe-budget';
import { errorSummary } from '../lambdas/handlers/error-summary';
import { type ApiHandler, errorResponse } from '../lambdas/handlers/http-responses';
import { gatewayAnswer, hasJsonBody, matchesRequestModel, tokenBucket } from './api-gateway';
import { lambdaContext } from './lambda-context';
import { renderTemplate } from './mapping-templates';
import type { QueueEndpoint, ServiceAnswer } from './sqs-query-protocol';

export interface LocalApiOptions {
  port: number;
  /** One handler per function the routes name, built exactly as the Lambda builds it. */
  handlers: Record<FunctionName, ApiHandler>;
  /** The charge queue's endpoint that `POST /payments/async` sends its rendered request to. */
  queueEndpoint: QueueEndpoint;
  /** The deployed function's timeout, so `getRemainingTimeInMillis` tells the truth. */
  timeoutSeconds: number;
  /**
   * Operator commands of the local runtime, at `POST /_local/<name>` (never deployed): what a
   * script can only do in AWS by invoking a function, it does here through this server.
   */
  operations?: Record<string, (query: URLSearchParams) => Promise<unknown>>;
  /** Called once each request is answered (npm start prints a line). */
  onRequest?: (request: AnsweredRequest) => void;
  /** The stage's method throttles by the function a route invokes (admission.ts `stageMethodThrottles`); none when unset. */
  stageThrottles?: Partial<Record<FunctionName, Throttle>>;
}

export interface AnsweredRequest {
  method: string;
  path: string;
  statusCode: number;
  milliseconds: number;
  /** The order the request names in its path or body, when it names one. */
  orderId?: string;
}

interface Answered {
  result: APIGatewayProxyResult;
  orderId?: string;
}

export interface LocalApi {
  url: string;
  stop(): Promise<void>;
}

/** API Gateway refuses payloads over 10 MB before any Lambda runs. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Serves the routes of `lambdas/contract/routes.ts` by building the API Gateway REST proxy event
 * and Lambda context the deployed function receives, and writing its result back as HTTP.
 */
export async function startLocalApi({
  port,
  handlers,
  queueEndpoint,
  timeoutSeconds,
  operations = {},
  onRequest,
  stageThrottles = {},
}: LocalApiOptions): Promise<LocalApi> {
  const compiled = routes.map((route) => {
    const throttle = route.kind === 'lambda' ? stageThrottles[route.function] : undefined;
    return { route, pattern: pathPattern(route.path), admit: throttle === undefined ? () => true : tokenBucket(throttle) };
  });

  async function answer(request: IncomingMessage, url: URL, body: string | undefined): Promise<Answered> {
    if (body === undefined) return { result: gatewayAnswer('REQUEST_TOO_LARGE', 413, 'Request Too Long', randomUUID()) };
    const operation = /^\/_local\/([a-z]+)$/.exec(url.pathname)?.[1];
    if (operation !== undefined && request.method === 'POST' && Object.hasOwn(operations, operation)) {
      const result = await operations[operation](url.searchParams).then(
        (value) => ({ statusCode: 200, value }),
        (error: unknown) => ({ statusCode: 500, value: { error: errorSummary(error) } }),
      );
      return { result: { statusCode: result.statusCode, body: JSON.stringify(result.value) } };
    }
    for (const { route, pattern, admit } of compiled) {
      const match = pattern.exec(url.pathname);
      if (match === null || route.method !== request.method) continue;
      if (!admit()) return { result: gatewayAnswer('THROTTLED', 429, 'Too Many Requests', randomUUID()) };
      if (route.kind === 'queue') return { result: await sendToQueue(request, body, queueEndpoint), orderId: bodyOrderId(body) };
      const pathParameters = decodedPathParameters(match.groups ?? {});
      if (pathParameters === undefined) return { result: errorResponse(400, 'invalid_request', 'the path is not valid percent-encoding') };
      const event = proxyEvent(request, url, route, pathParameters, body);
      const result = await invokeWithTimeout(handlers[route.function], event, route.function, timeoutSeconds);
      // A webhook's body is not checked before its handler runs: its orderIds are nobody's to print.
      return { result, orderId: pathParameters.orderId ?? (route.requestModel === 'ChargeRequest' ? bodyOrderId(body) : undefined) };
    }
    // API Gateway's answer to a path or method it does not serve (MISSING_AUTHENTICATION_TOKEN, a 4xx).
    return { result: gatewayAnswer('DEFAULT_4XX', 403, 'Missing Authentication Token', randomUUID()) };
  }

  const server: Server = createServer((request, response) => {
    const startedAt = performance.now();
    const url = new URL(request.url ?? '/', 'http://local');
    readBody(request)
      .then((body) => answer(request, url, body))
      .catch((error: unknown): Answered => {
        console.error('local API: handler crashed', errorSummary(error));
        return { result: gatewayAnswer('DEFAULT_5XX', 502, 'Internal server error', randomUUID()) };
      })
      .then(({ result, orderId }) => {
        const milliseconds = Math.round(performance.now() - startedAt);
        onRequest?.({ method: request.method ?? '', path: url.pathname, statusCode: result.statusCode, milliseconds, orderId });
        write(response, result);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What API Gateway does for POST /payments/async: checks the content type and the body against the
 * model, renders the deployed request template, sends it to SQS, and renders the response template
 * SQS's status selects.
 */
async function sendToQueue(request: IncomingMessage, body: string, queueEndpoint: QueueEndpoint): Promise<APIGatewayProxyResult> {
  const requestId = randomUUID();
  if (!hasJsonBody(request.headers['content-type'])) return gatewayAnswer('DEFAULT_4XX', 415, 'Unsupported Media Type', requestId);
  if (!matchesRequestModel(body)) return gatewayAnswer('BAD_REQUEST_BODY', 400, 'Invalid request body', requestId);
  let answer: ServiceAnswer;
  try {
    answer = await queueEndpoint({ headers: queueRequest.headers, body: renderTemplate(queueRequest.template, { body, requestId }) });
  } catch (error) {
    // SQS may have taken the message: API Gateway's own 5xx, which the contract tells clients to retry as sent.
    if ((error as Error).name === 'TimeoutError') return gatewayAnswer('DEFAULT_5XX', 504, 'Endpoint request timed out', requestId);
    return gatewayAnswer('DEFAULT_5XX', 500, 'Internal server error', requestId);
  }
  const selected = selectQueueResponse(answer.statusCode);
  return { statusCode: selected.statusCode, body: renderTemplate(selected.template, { body: answer.body, requestId }) };
}

/** The body's orderId, for the request log: whatever the client sent, valid or not. */
function bodyOrderId(body: string): string | undefined {
  try {
    const orderId = (JSON.parse(body) as { orderId?: unknown } | null)?.orderId;
    return typeof orderId === 'string' ? orderId : undefined;
  } catch {
    return undefined;
  }
}

function pathPattern(path: string): RegExp {
  const source = path.replace(/\{(\w+)\}/g, (_, name: string) => `(?<${name}>[^/]+)`);
  return new RegExp(`^${source}/?$`);
}

/** API Gateway hands path parameters over percent-decoded (`order%3A1` is `order:1`). */
function decodedPathParameters(groups: Record<string, string>): Record<string, string> | undefined {
  try {
    return Object.fromEntries(Object.entries(groups).map(([name, value]) => [name, decodeURIComponent(value)]));
  } catch {
    return undefined;
  }
}

/** A map with no prototype: a header or query parameter named `__proto__` is just a name. */
const emptyMap = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

function proxyEvent(request: IncomingMessage, url: URL, route: Route, pathParameters: Record<string, string>, body: string): APIGatewayProxyEvent {
  const headers = emptyMap<string>();
  const multiValueHeaders = emptyMap<string[]>();
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const [name, value] = [request.rawHeaders[i], request.rawHeaders[i + 1]];
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  const query = [...new Set(url.searchParams.keys())];
  const queryStringParameters = emptyMap<string>();
  const multiValueQueryStringParameters = emptyMap<string[]>();
  for (const name of query) {
    queryStringParameters[name] = url.searchParams.getAll(name).at(-1) as string;
    multiValueQueryStringParameters[name] = url.searchParams.getAll(name);
  }
  const now = Date.now();
  return {
    resource: route.path,
    path: url.pathname,
    httpMethod: route.method,
    headers,
    multiValueHeaders,
    queryStringParameters: query.length ? queryStringParameters : null,
    multiValueQueryStringParameters: query.length ? multiValueQueryStringParameters : null,
    pathParameters: Object.keys(pathParameters).length ? pathParameters : null,
    stageVariables: null,
    body: body === '' ? null : body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: route.method,
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: route.path,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: headers[HTTP_HEADERS.apiKey] ?? null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
    },
  };
}

async function invokeWithTimeout(
  handler: ApiHandler,
  event: APIGatewayProxyEvent,
  functionName: string,
  timeoutSeconds: number,
): Promise<APIGatewayProxyResult> {
  const context = lambdaContext(timeoutSeconds * 1000, functionName);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<APIGatewayProxyResult>((resolve) => {
    // The function's timeout comes before API Gateway's 29 s: a timed-out Lambda is the gateway's 502.
    timer = setTimeout(() => resolve(gatewayAnswer('DEFAULT_5XX', 502, 'Internal server error', event.requestContext.requestId)), timeoutSeconds * 1000);
  });
  try {
    return await Promise.race([handler(event, context), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function write(response: ServerResponse, result: APIGatewayProxyResult): void {
  if (response.headersSent) return;
  const headers = { 'Content-Type': 'application/json', ...(result.headers as Record<string, string> | undefined) };
  response.writeHead(result.statusCode, headers);
  response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
}

/** The body as text, or undefined when it is larger than API Gateway accepts. */
function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= API_GATEWAY_MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > API_GATEWAY_MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
