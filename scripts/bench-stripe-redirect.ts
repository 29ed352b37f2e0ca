/**
 * Preloaded (`node --require`) into the cold-start bench's processes: a bundled function calls
 * api.stripe.com over HTTPS, and this sends those requests to the Stripe emulator over plain HTTP.
 * It loads `http` and `https` early, as Lambda's runtime and every AWS SDK client do anyway.
 */
import http from 'node:http';
import https from 'node:https';

const emulator = new URL(process.env.BENCH_STRIPE_EMULATOR_URL ?? 'http://127.0.0.1');
const agent = new http.Agent({ keepAlive: true });
const httpsRequest = https.request as (...args: unknown[]) => http.ClientRequest;

const isToStripe = (options: unknown): options is https.RequestOptions =>
  typeof options === 'object' && options !== null && !(options instanceof URL) && (options as https.RequestOptions).host === 'api.stripe.com';

// stripe-node calls `https.request(options)` with its own HTTPS agent, which plain HTTP cannot use.
https.request = ((...args: unknown[]) => {
  const [options] = args;
  if (!isToStripe(options)) return httpsRequest(...args);
  return http.request({ ...options, protocol: 'http:', host: emulator.hostname, port: emulator.port, agent });
}) as typeof https.request;
