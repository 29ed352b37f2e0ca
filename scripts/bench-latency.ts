/**
 * The charge against the Powertools-alone peer (bench-peer.ts), in one process on the same DynamoDB
 * Local and Stripe emulator: DynamoDB round trips per call, first-charge and replay latency, and
 * throughput with duplicates. Both are driven through their API Gateway handlers, alternately, so
 * the machine's noise falls on both alike. Part of `npm run bench` (`BENCH_ONLY=latency` alone).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createChargeService } from '../lambdas/adapters/charge-service';
import type { ChargeRequest } from '../lambdas/contract/payment-request';
import { createChargePaymentHandler } from '../lambdas/handlers/charge-payment';
import type { ApiHandler } from '../lambdas/handlers/http-responses';
import { localDynamoDbClient } from '../local/dynamodb-local';
import { lambdaContext } from '../local/lambda-context';
import { forgetIdempotencyKeys, type LocalParts, newOrderId, postEvent, serviceOptions } from '../test/support/local-parts';
import { loggedBytes } from './bench-capacity';
import { createPeerHandler } from './bench-peer';

const WARM_UP_CALLS = 20;
/** Requests in flight during the throughput runs, and the share of them that repeat an order already answered. */
const IN_FLIGHT = 16;
const DUPLICATES_PER_10 = 3;
const THROUGHPUT_PHASE_SECONDS = Number(process.env.BENCH_THROUGHPUT_PHASE_SECONDS ?? 4);
/** The targets, as multiples of the peer. */
const TARGETS = { firstChargeP50: { atMost: 1.3 }, replayP50: { atMost: 1.1 }, throughput: { atLeast: 0.75 } } as const;

interface DynamoDbCounts {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** How many times the requests in flight went from 0 to 1: requests sent together count once. */
  roundTrips: number;
}

/** A DynamoDB client that counts its requests and its sequential round trips. */
export function countingClient(endpoint: string): { client: DynamoDBClient; counts: () => DynamoDbCounts; reset: () => void } {
  const client = localDynamoDbClient(endpoint);
  let counts: DynamoDbCounts = { requests: 0, roundTrips: 0 };
  let inFlight = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      counts.requests += 1;
      if (inFlight === 0) counts.roundTrips += 1;
      inFlight += 1;
      try {
        return await next(args);
      } finally {
        inFlight -= 1;
      }
    },
    { step: 'finalizeRequest', name: 'countRequests' },
  );
  return {
    client,
    counts: () => ({ ...counts }),
    reset: () => {
      counts = { requests: 0, roundTrips: 0 };
    },
  };
}

interface Side {
  name: 'ours' | 'peer';
  handler: ApiHandler;
  dynamoDb: ReturnType<typeof countingClient>;
}

/** How many times the peer's value this one is. */
export const ratio = (value: number, peer: number) => `${(value / peer).toFixed(2)}×`;

function verdict(value: number, peer: number, target: { atMost?: number; atLeast?: number }): string {
  const times = value / peer;
  const met = (target.atMost === undefined || times <= target.atMost) && (target.atLeast === undefined || times >= target.atLeast);
  return met ? 'met' : '**missed**';
}

const newOrder = (side: Side): ChargeRequest => ({ orderId: newOrderId(`bench-${side.name}`), amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa' });

async function call(side: Side, order: ChargeRequest): Promise<void> {
  const { statusCode, body } = await side.handler(postEvent(order), lambdaContext());
  if (statusCode >= 300) throw new Error(`${side.name} answered ${statusCode}: ${body}`);
}

function percentile(samples: number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * fraction)];
}

/** `run` for each side in turn, `rounds` times, the side going first switching every round; milliseconds per call by side. */
async function alternately(sides: Side[], rounds: number, run: (side: Side, round: number) => Promise<void>): Promise<Map<Side, number[]>> {
  const samples = new Map<Side, number[]>(sides.map((side) => [side, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const started = performance.now();
      await run(side, round);
      samples.get(side)?.push(performance.now() - started);
    }
  }
  return samples;
}

/** Answers per second with IN_FLIGHT calls in flight for `seconds`, DUPLICATES_PER_10 in 10 of them repeating an answered order. */
async function throughput(side: Side, seconds: number): Promise<{ answered: number; seconds: number }> {
  const answeredOrders: ChargeRequest[] = [];
  let sent = 0;
  let answered = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() - started < seconds * 1000) {
      const duplicate = sent++ % 10 < DUPLICATES_PER_10 && answeredOrders.length > 0;
      const order = duplicate ? answeredOrders[Math.floor(Math.random() * answeredOrders.length)] : newOrder(side);
      await call(side, order);
      if (!duplicate) answeredOrders.push(order);
      answered += 1;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { answered, seconds: (performance.now() - started) / 1000 };
}

/** DynamoDB round trips and requests, and Stripe requests, of one call. */
async function countsOf(parts: LocalParts, side: Side, order: ChargeRequest): Promise<DynamoDbCounts & { stripe: number }> {
  side.dynamoDb.reset();
  const stripeBefore = parts.stripeEmulator.stats().requests;
  await call(side, order);
  return { ...side.dynamoDb.counts(), stripe: parts.stripeEmulator.stats().requests - stripeBefore };
}

/** The report sections: the comparison with the peer, and the round trips per path. */
export async function benchAgainstPeer(parts: LocalParts, rounds: number): Promise<string[]> {
  const side = (name: Side['name'], handlerOf: (dynamoDb: DynamoDBClient) => ApiHandler): Side => {
    const dynamoDb = countingClient(parts.dynamoDbLocal.endpoint);
    return { name, dynamoDb, handler: handlerOf(dynamoDb.client) };
  };
  // The charge handler as deployed: its Logger at the project's level (INFO) and its metrics.
  const ours = side('ours', (dynamoDb) => createChargePaymentHandler(createChargeService(serviceOptions(parts, dynamoDb), 'api')));
  const peer = side('peer', (dynamoDb) => createPeerHandler({ tableName: parts.tables.idempotencyTableName, dynamoDb, stripe: async () => parts.stripe }));
  const sides = [ours, peer];
  try {
    // Ours logs and emits metrics to stdout as in Lambda: counted there, not printed here.
    const { result } = await loggedBytes(async () => {
      const ourOrder = newOrder(ours);
      const peerOrder = newOrder(peer);
      const counts = {
        ours: { first: await countsOf(parts, ours, ourOrder), replay: await countsOf(parts, ours, ourOrder) },
        peer: { first: await countsOf(parts, peer, peerOrder), replay: await countsOf(parts, peer, peerOrder) },
      };
      await forgetIdempotencyKeys(parts);
      const oursAfterExpiry = await countsOf(parts, ours, ourOrder);

      await alternately(sides, WARM_UP_CALLS, (side) => call(side, newOrder(side)));
      const charged = new Map<Side, ChargeRequest[]>(sides.map((side) => [side, []]));
      const firstCharges = await alternately(sides, rounds, async (side) => {
        const order = newOrder(side);
        charged.get(side)?.push(order);
        await call(side, order);
      });
      const replays = await alternately(sides, rounds, (side, round) => call(side, (charged.get(side) ?? [])[round]));

      // An in-process pool, not autocannon: both handlers compared in one process on the same event loop, with no HTTP server between.
      const phases: Array<{ side: Side; answered: number; seconds: number }> = [];
      for (const side of [ours, peer, peer, ours]) phases.push({ side, ...(await throughput(side, THROUGHPUT_PHASE_SECONDS)) });
      const perSecond = (side: Side) => {
        const own = phases.filter((phase) => phase.side === side);
        return own.reduce((sum, phase) => sum + phase.answered, 0) / own.reduce((sum, phase) => sum + phase.seconds, 0);
      };
      return { counts, oursAfterExpiry, firstCharges, replays, throughput: { ours: perSecond(ours), peer: perSecond(peer) } };
    });

    const { counts, oursAfterExpiry, firstCharges, replays } = result;
    const at = (samples: Map<Side, number[]>, side: Side, fraction: number) => percentile(samples.get(side) ?? [], fraction);
    const latencyRow = (name: string, samples: Map<Side, number[]>, fraction: number, target?: { atMost: number }) => {
      const [mine, theirs] = [at(samples, ours, fraction), at(samples, peer, fraction)];
      const goal = target === undefined ? ['—', '—'] : [`≤ ${target.atMost}×`, verdict(mine, theirs, target)];
      return `| ${name} | ${mine.toFixed(2)} | ${theirs.toFixed(2)} | ${ratio(mine, theirs)} | ${goal.join(' | ')} |`;
    };
    const rate = result.throughput;
    const countsRow = (path: string, mine: DynamoDbCounts & { stripe: number }, theirs?: DynamoDbCounts & { stripe: number }) =>
      `| ${path} | ${mine.roundTrips} | ${mine.requests} | ${theirs?.roundTrips ?? '—'} | ${theirs?.requests ?? '—'} | ${theirs === undefined ? '—' : ratio(mine.roundTrips, theirs.roundTrips)} | ${mine.stripe} / ${theirs?.stripe ?? '—'} |`;
    return [
      '## Against a Powertools-alone peer (in process, the same DynamoDB Local and Stripe emulator)',
      '',
      `The peer (\`scripts/bench-peer.ts\`) is Powertools' idempotency example made a payment: \`makeIdempotent\` keyed on \`orderId\` around one PaymentIntent create, confirmed, with the project's Stripe client settings; no ledger. Both are called through their API Gateway handlers in this process, alternately: ${rounds} calls each per latency row, after ${WARM_UP_CALLS} each to warm up; throughput in ${THROUGHPUT_PHASE_SECONDS}-second phases (ours, peer, peer, ours) with ${IN_FLIGHT} calls in flight, ${DUPLICATES_PER_10 * 10} % of them repeating an answered order. Ours logs at INFO and emits its metrics as deployed (counted, not printed); the peer logs nothing.`,
      '',
      '| measure | ours | peer | ours ÷ peer | target | verdict |',
      '|---|---|---|---|---|---|',
      latencyRow('first charge p50 (ms)', firstCharges, 0.5, TARGETS.firstChargeP50),
      latencyRow('first charge p95 (ms)', firstCharges, 0.95),
      latencyRow('replay (key table hit) p50 (ms)', replays, 0.5, TARGETS.replayP50),
      latencyRow('replay (key table hit) p95 (ms)', replays, 0.95),
      `| throughput (answers/s) | ${rate.ours.toFixed(0)} | ${rate.peer.toFixed(0)} | ${ratio(rate.ours, rate.peer)} | ≥ ${TARGETS.throughput.atLeast}× | ${verdict(rate.ours, rate.peer, TARGETS.throughput)} |`,
      '',
      '## DynamoDB round trips per call',
      '',
      'Sequential round trips: how many times the DynamoDB requests in flight went from 0 to 1 during the call (requests sent together count once).',
      '',
      '| path | ours: round trips | ours: requests | peer: round trips | peer: requests | round trips ÷ peer | Stripe requests (ours / peer) |',
      '|---|---|---|---|---|---|---|',
      countsRow('first charge', counts.ours.first, counts.peer.first),
      countsRow('replay (key table hit)', counts.ours.replay, counts.peer.replay),
      countsRow('replay after the key expired (ledger hit)', oursAfterExpiry),
      '',
    ];
  } finally {
    for (const side of sides) side.dynamoDb.client.destroy();
  }
}
