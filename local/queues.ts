import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { chargeQueue } from '../lambdas/contract/queues';
import { API_INTEGRATION_TIMEOUT_SECONDS } from '../lambdas/contract/settings';
import { guardChildProcess } from './child-process-guard';
import { freePort } from './free-port';

export interface LocalQueues {
  queueUrl: string;
  deadLetterQueueUrl: string;
}

export interface SqsEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 15_000;
/** fauxqs exports no package.json to resolve from; its CLI sits at a fixed place in the package. */
const FAUXQS_CLI = join(__dirname, '..', 'node_modules', 'fauxqs', 'dist', 'cli.js');

/**
 * fauxqs as the local SQS, in a child process of its own: it is an ES module, which Jest's
 * CommonJS runtime cannot load in process. The child is tied to this process's life.
 */
export async function startSqsEmulator(): Promise<SqsEmulator> {
  const port = await freePort();
  const child = spawn(process.execPath, [FAUXQS_CLI], {
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_HOST: '127.0.0.1', FAUXQS_LOGGER: 'false' },
    stdio: 'ignore',
  });
  const stop = guardChildProcess(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const healthy = await fetch(`${endpoint}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return { endpoint, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the SQS emulator (fauxqs) did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** fauxqs's queue URLs name a host that does not resolve, so the endpoint is always explicit. */
export function localSqsClient(endpoint: string, options: Pick<SQSClientConfig, 'maxAttempts' | 'requestHandler'> = {}): SQSClient {
  return new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, ...options });
}

/** SQS as API Gateway's integration calls it: one attempt, waited for as long as the integration waits. */
export function integrationSqsClient(endpoint: string): SQSClient {
  const timeoutMs = API_INTEGRATION_TIMEOUT_SECONDS * 1000;
  return localSqsClient(endpoint, { maxAttempts: 1, requestHandler: { requestTimeout: timeoutMs, throwOnRequestTimeout: true } });
}

/**
 * Creates the charge queue and its dead-letter queue with the stack's settings (redrive after
 * `maxReceiveCount`, retention). Tests pass a short visibility timeout to see retries in seconds.
 */
export async function createQueues(
  sqs: SQSClient,
  prefix = '',
  { visibilityTimeoutSeconds = chargeQueue.visibilityTimeoutSeconds } = {},
): Promise<LocalQueues> {
  const day = 24 * 60 * 60;
  const deadLetter = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}${chargeQueue.deadLetterLogicalName}`,
      Attributes: { MessageRetentionPeriod: String(chargeQueue.deadLetterRetentionDays * day) },
    }),
  );
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetter.QueueUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}${chargeQueue.logicalName}`,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(chargeQueue.retentionDays * day),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: chargeQueue.maxReceiveCount }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl as string, deadLetterQueueUrl: deadLetter.QueueUrl as string };
}
