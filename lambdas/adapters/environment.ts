import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { AWS_MAX_ATTEMPTS, AWS_REQUEST_TIMEOUT_MS, AWS_RETRY_DELAY_MS, SECRET_CACHE_SECONDS } from '../contract/settings';
import { traced } from './tracing';

/** A variable the stack always sets; its absence is a deployment bug, reported as such. */
export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}

/**
 * Timeouts and retries of every AWS client in a function: they add up to the function's timeout
 * (settings.ts). The request timeout covers connecting too, and must be told to throw (by default
 * it only logs); the retry waits a fixed pause, throttled or not (the default waits up to 1 s).
 */
export function awsClientSettings() {
  return {
    retryStrategy: new ConfiguredRetryStrategy(AWS_MAX_ATTEMPTS, AWS_RETRY_DELAY_MS),
    requestHandler: { connectionTimeout: AWS_REQUEST_TIMEOUT_MS, requestTimeout: AWS_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
  };
}

export function lambdaDynamoDbClient(): DynamoDBClient {
  return traced(new DynamoDBClient(awsClientSettings()));
}

let secrets: SecretsProvider | undefined;

/**
 * Reads a secret through Powertools Parameters, cached for SECRET_CACHE_SECONDS so a rotated value
 * is picked up without a deploy. One provider (one client, one cache) per function, loaded with its
 * Secrets Manager client on the first read: a request that reads no secret (a replay) loads neither.
 */
export function secretReader(secretId: string): () => Promise<string> {
  return async () => {
    secrets ??= loadSecretsProvider();
    const value = await secrets.get(secretId, { maxAge: SECRET_CACHE_SECONDS });
    if (typeof value !== 'string' || value === '') throw new Error(`secret ${secretId} holds no value`);
    return value;
  };
}

/** Required here, not imported at the top: the bundle evaluates the provider and its client only now. */
function loadSecretsProvider(): SecretsProvider {
  const { createSecretsProvider } = require('./secrets-provider') as typeof import('./secrets-provider');
  return createSecretsProvider(awsClientSettings());
}
