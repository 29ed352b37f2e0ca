import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AWS_MAX_ATTEMPTS, AWS_REQUEST_TIMEOUT_MS } from '../contract/settings';

/** A variable the stack always sets; its absence is a deployment bug, reported as such. */
export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** Timeouts of every AWS client in a function: they add up to the function's timeout (settings.ts). */
export const awsClientSettings = {
  maxAttempts: AWS_MAX_ATTEMPTS,
  requestHandler: { connectionTimeout: AWS_REQUEST_TIMEOUT_MS, requestTimeout: AWS_REQUEST_TIMEOUT_MS },
};

export function lambdaDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient(awsClientSettings);
}
