import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { QUEUED_STATUS, routes, type FunctionName, type Route } from '../lambdas/contract/routes';
import { parseChargeRequest } from '../lambdas/core/validate-charge-request';
import { errorSummary } from '../lambdas/handlers/error-summary';
import { errorResponse, invalidRequest, type ApiHandler } from '../lambdas/handlers/http-responses';
import { lambdaContext } from './lambda-context';

export interface LocalApiOptions {
  port: number;
  /** One handler per function the routes name, built exactly as the Lambda builds it. */
  handlers: Record<FunctionName, ApiHandler>;
  /** Sends a validated body to the charge queue (the API Gateway → SQS integration). */
  enqueue: (body: string) => Promise<void>;
  /** The deployed function's timeout, so `getRemainingTimeInMillis` tells the truth. */
  timeoutSeconds: number;
  /**
   * Operator commands of the local runtime, at `POST /_local/<name>` (never deployed): what a
   * script can only do in AWS by invoking a function, it does here through this server.
   */
  operations?: Record<string, (query: URLSearchParams) => Promise<unknown>>;
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
export async function startLocalApi({ port, handlers, enqueue, timeoutSeconds, operations = {} }: LocalApiOptions): Promise<LocalApi> {
  const compiled = routes.map((route) => ({ route, pattern: pathPattern(route.path) }));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://local');
    const body = await readBody(request);
    if (body === undefined) return write(response, { statusCode: 413, body: '{"message":"Request Too Long"}' });

    const operation = /^\/_local\/([a-z]+)$/.exec(url.pathname)?.[1];
    if (operation !== undefined && request.method === 'POST' && Object.hasOwn(operations, operation)) {
      const result = await operations[operation](url.searchParams).then((value) => ({ statusCode: 200, value }), (error: unknown) => ({ statusCode: 500, value: { error: errorSummary(error) } }));
      return write(response, { statusCode: result.statusCode, body: JSON.stringify(result.value) });
    }
    for (const { route, pattern } of compiled) {
      const match = pattern.exec(url.pathname);
      if (match === null || route.method !== request.method) continue;
      if (route.kind === 'queue') return write(response, await sendToQueue(body, enqueue));
      const pathParameters = decodedPathParameters(match.groups ?? {});
      if (pathParameters === undefined) return write(response, errorResponse(400, 'invalid_request', 'the path is not valid percent-encoding'));
      const event = proxyEvent(request, url, route, pathParameters, body);
      const result = await invokeWithTimeout(handlers[route.function], event, route.function, timeoutSeconds);
      return write(response, result);
    }
    write(response, { statusCode: 403, body: '{"message":"Missing Authentication Token"}' });
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error('local API: handler crashed', errorSummary(error));
      write(response, { statusCode: 502, body: '{"message":"Internal server error"}' });
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

/** What API Gateway does for POST /payments/async: check the body against the model, send it, answer 202. */
async function sendToQueue(body: string, enqueue: (body: string) => Promise<void>): Promise<APIGatewayProxyResult> {
  const request = parseChargeRequest(body);
  if (!request.ok) return invalidRequest(request.errors);
  try {
    await enqueue(body);
  } catch {
    return errorResponse(503, 'queue_unavailable', 'the order could not be queued; retrying is safe');
  }
  return { statusCode: 202, body: JSON.stringify({ orderId: request.value.orderId, status: QUEUED_STATUS }) };
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

function proxyEvent(
  request: IncomingMessage,
  url: URL,
  route: Route,
  pathParameters: Record<string, string>,
  body: string,
): APIGatewayProxyEvent {
  const headers = emptyMap<string>();
  const multiValueHeaders = emptyMap<string[]>();
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const [name, value] = [request.rawHeaders[i], request.rawHeaders[i + 1]];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
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
        apiKey: headers['x-api-key'] ?? null,
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
    timer = setTimeout(() => resolve({ statusCode: 504, body: '{"message":"Endpoint request timed out"}' }), timeoutSeconds * 1000);
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
