/**
 * One cold start, in the fresh `node` process the bench starts: loads a function's bundle, answers
 * one request with its `handler`, and writes the times and the answer to file descriptor 3 (the
 * function's own logs go to stdout and stderr). Arguments: the bundle, the function's name, its
 * timeout in milliseconds, the event as JSON.
 */
import { writeSync } from 'node:fs';
import { lambdaContext } from '../local/lambda-context';

export interface ColdStart {
  /** Loading the bundle: what Lambda's init phase runs. */
  initMs: number;
  /** The first invocation, from the call to its answer. */
  answerMs: number;
  answer?: unknown;
  error?: string;
}

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

async function main(): Promise<void> {
  const [bundle, functionName, timeoutMs, eventJson] = process.argv.slice(2);
  const event: unknown = JSON.parse(eventJson);
  const started = performance.now();
  const { handler } = require(bundle) as { handler: Handler };
  const loaded = performance.now();
  const outcome = await handler(event, lambdaContext(Number(timeoutMs), functionName)).then(
    (answer) => ({ answer }),
    (error: unknown) => ({ error: String(error) }),
  );
  const result: ColdStart = { initMs: loaded - started, answerMs: performance.now() - loaded, ...outcome };
  writeSync(3, JSON.stringify(result));
  // Keep-alive sockets (the AWS SDK's, Stripe's) would hold the process open.
  process.exit(0);
}

if (require.main === module) void main();
