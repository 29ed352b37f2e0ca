/**
 * The queue path absorbing a burst, on `npm start`'s own runtime: a one-minute burst of 10× the
 * queue path's rated rate must drain within 10 minutes at any Stripe budget (stripe-budget.ts).
 * Time is scaled down tenfold and the budget down to what one machine charges comfortably, which
 * keeps the ratios: a 6-second burst should drain within 60 seconds. `npm run bench` prints it;
 * alone: `node --import tsx scripts/bench-burst.ts`.
 */
import { request } from 'node:http';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { burstDrainSeconds, stripeBudgetOf } from '../lambdas/contract/stripe-budget';
import { localSqsClient } from '../local/queues';
import { type LocalRuntime, startLocalRuntime } from '../local/runtime';

/** Small enough that the worker's pace binds, not DynamoDB Local: its share is 3 charges/s, the queue path is rated for 1.5 orders/s. */
const BENCH_STRIPE_REQUESTS_PER_SECOND = 10;
/** A minute and ten minutes, a tenth as long. */
const TIME_SCALE = 10;
const BURST_MULTIPLE = 10;
const BURST_SECONDS = 60 / TIME_SCALE;

export interface BurstDrain {
  stripeRequestsPerSecond: number;
  ratedOrdersPerSecond: number;
  workerRequestsPerSecond: number;
  orders: number;
  burstSeconds: number;
  /** From the end of the burst until every order sent was charged. */
  drainSeconds: number;
  predictedDrainSeconds: number;
  /** The most PaymentIntents created in any one second (the worker's share bounds it). */
  peakCreatesPerSecond: number;
  charged: number;
  deadLettered: number;
  /** Creates Stripe refused for its rate limit, set just above the worker's share. */
  rateLimited: number;
}

function postJson(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'local' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `perSecond` queued orders each second for `seconds`, spread evenly; resolves with the orderIds. */
async function sendAtRate(runtime: LocalRuntime, label: string, perSecond: number, seconds: number): Promise<string[]> {
  const orderIds: string[] = [];
  const sends: Array<Promise<number>> = [];
  const started = Date.now();
  const total = Math.round(perSecond * seconds);
  for (let n = 0; n < total; n += 1) {
    const due = started + (n * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    const orderId = `bench-burst-${label}-${n}-${started}`;
    orderIds.push(orderId);
    sends.push(postJson(`${runtime.url}/payments/async`, { orderId, amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa' }));
  }
  const statuses = await Promise.all(sends);
  const refused = statuses.filter((status) => status !== 202).length;
  if (refused > 0) throw new Error(`${refused} of ${total} queued orders were not accepted`);
  return orderIds;
}

async function messagesOn(runtime: LocalRuntime, queueUrl: string): Promise<number> {
  const sqs = localSqsClient(runtime.sqsEndpoint);
  try {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  } finally {
    sqs.destroy();
  }
}

export async function measureBurstDrain(): Promise<BurstDrain> {
  const budget = stripeBudgetOf(BENCH_STRIPE_REQUESTS_PER_SECOND);
  const rated = budget.worker.ratedOrdersPerSecond;
  // Hundreds of charges' INFO lines would bury the report; the handlers read the level when made.
  const logLevel = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  const runtime = await startLocalRuntime({
    port: 0,
    stripeRequestsPerSecond: BENCH_STRIPE_REQUESTS_PER_SECOND,
    reconcileIntervalSeconds: 3_600,
    eventsCatchUpIntervalSeconds: 3_600,
  });
  if (logLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = logLevel;
  const stripe = runtime.stripeEmulator;
  if (stripe === undefined) throw new Error('the burst bench needs the embedded Stripe emulator');
  const creates = () => stripe.stats().requestsByEndpoint['POST /v1/payment_intents'] ?? 0;
  // Stripe's own limit just above the worker's share (its invocations start charges independently): a worker over its share would be refused.
  stripe.faults.limitRequestsPerSecond(Math.ceil(budget.worker.requestsPerSecond) + budget.worker.maxConcurrency, 'POST /v1/payment_intents');
  // Creates per second, sampled every 250 ms: the peak over any one-second window.
  const samples: Array<{ at: number; creates: number }> = [];
  const sampler = setInterval(() => samples.push({ at: Date.now(), creates: creates() }), 250);
  try {
    // The burst (10× the rated rate for a scaled minute), while the rated rate keeps arriving until it drains.
    let draining = true;
    const steady = (async () => {
      const ids: string[] = [];
      while (draining) ids.push(...(await sendAtRate(runtime, 'steady', rated, 1)));
      return ids;
    })();
    const burst = await sendAtRate(runtime, 'burst', (BURST_MULTIPLE - 1) * rated, BURST_SECONDS);
    const burstEnded = Date.now();
    const chargedAll = async (orderIds: string[]) => {
      for (const orderId of orderIds) if (stripe.paymentIntentsForOrder(orderId, runtime.namespace).length === 0) return false;
      return true;
    };
    while (!(await chargedAll(burst))) await sleep(250);
    draining = false;
    const steadyIds = await steady;
    while (!(await chargedAll(steadyIds))) await sleep(250);
    const drainSeconds = (Date.now() - burstEnded) / 1000;
    const all = [...burst, ...steadyIds];
    let peak = 0;
    for (const sample of samples) {
      const secondLater = samples.find((later) => later.at >= sample.at + 1000);
      if (secondLater !== undefined) peak = Math.max(peak, secondLater.creates - sample.creates);
    }
    return {
      stripeRequestsPerSecond: BENCH_STRIPE_REQUESTS_PER_SECOND,
      ratedOrdersPerSecond: rated,
      workerRequestsPerSecond: budget.worker.requestsPerSecond,
      orders: all.length,
      burstSeconds: BURST_SECONDS,
      drainSeconds,
      predictedDrainSeconds: burstDrainSeconds(budget, BURST_MULTIPLE, BURST_SECONDS),
      peakCreatesPerSecond: peak,
      charged: all.filter((orderId) => stripe.paymentIntentsForOrder(orderId, runtime.namespace).length === 1).length,
      deadLettered: await messagesOn(runtime, runtime.queues.deadLetterQueueUrl),
      rateLimited: stripe.stats().rateLimited,
    };
  } finally {
    clearInterval(sampler);
    await runtime.stop();
  }
}

/** The Markdown section of docs/benchmark.md. */
export function burstReport(drain: BurstDrain): string[] {
  return [
    `## A burst on the queue path (time scaled ${TIME_SCALE}× down)`,
    '',
    `\`npm start\`'s runtime with \`STRIPE_REQUESTS_PER_SECOND=${drain.stripeRequestsPerSecond}\`: the worker's share is ${drain.workerRequestsPerSecond} charges/s and the queue path is rated for ${drain.ratedOrdersPerSecond} orders/s. ${BURST_MULTIPLE}× that for ${drain.burstSeconds} s (a minute, scaled), the rated rate going on meanwhile; the target, scaled, is ${600 / TIME_SCALE} s.`,
    '',
    '| orders | drained in (s) | predicted (s) | target (s) | peak PaymentIntents created per second | worker share (req/s) | refused by Stripe’s limit | charged once | dead-lettered |',
    '|---|---|---|---|---|---|---|---|---|',
    `| ${drain.orders} | ${drain.drainSeconds.toFixed(1)} | ${drain.predictedDrainSeconds.toFixed(1)} | ${600 / TIME_SCALE} | ${drain.peakCreatesPerSecond} | ${drain.workerRequestsPerSecond} | ${drain.rateLimited} | ${drain.charged} | ${drain.deadLettered} |`,
    '',
  ];
}

if (require.main === module) {
  measureBurstDrain()
    .then((drain) => console.log(burstReport(drain).join('\n')))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
