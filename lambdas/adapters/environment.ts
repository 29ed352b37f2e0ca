import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** A variable the stack always sets; its absence is a deployment bug, reported as such. */
export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** Fail fast rather than spend the Lambda's time budget on a DynamoDB outage: 503 is retryable. */
export function lambdaDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 } });
}
