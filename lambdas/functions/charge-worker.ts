import { SQSClient } from '@aws-sdk/client-sqs';
import { pacedCharge } from '../adapters/charge-pace';
import { chargeServiceFromEnvironment } from '../adapters/charge-service';
import { createDeadLetter } from '../adapters/dead-letter-queue';
import { awsClientSettings, requiredEnv } from '../adapters/environment';
import { createRetryLater, createSendAgainLater } from '../adapters/queue-retries';
import { traced, withTracing } from '../adapters/tracing';
import { ENV } from '../contract/environment';
import { stripeBudgetOf, stripeRequestsPerSecondFrom } from '../contract/stripe-budget';
import { createChargeWorkerHandler } from '../handlers/charge-worker';
import { serviceMetrics } from '../handlers/outcome-metrics';

const sqs = traced(new SQSClient(awsClientSettings()));
const metrics = serviceMetrics();
// Read once: this environment's share of the worker's Stripe budget, whatever its batches hold.
const { worker } = stripeBudgetOf(stripeRequestsPerSecondFrom(process.env[ENV.stripeRequestsPerSecond]));

/** The charge queue's worker as deployed, built at init; the Stripe SDK is loaded by the first charge that calls Stripe. */
export const handler = withTracing(
  createChargeWorkerHandler(
    {
      charge: pacedCharge(chargeServiceFromEnvironment('queue', metrics), worker.requestsPerSecondPerInvocation),
      deadLetter: createDeadLetter(sqs, requiredEnv(ENV.deadLetterQueueUrl)),
      retryLater: createRetryLater(sqs, requiredEnv(ENV.chargeQueueUrl)),
      sendAgainLater: createSendAgainLater(sqs, requiredEnv(ENV.chargeQueueUrl)),
    },
    undefined,
    metrics,
  ),
);
