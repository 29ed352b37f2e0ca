import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../local/free-port';

/** Each runtime of this file leaves its runtime file here, not in the checkout. */
const runtimeFileDir = mkdtempSync(join(tmpdir(), 'payments-runtime-'));
const runtimeFile = join(runtimeFileDir, 'runtime.json');
afterAll(() => rmSync(runtimeFileDir, { recursive: true, force: true }));

/** `npm start` as a newcomer runs it: one Node process with tsx, the embedded parts inside it. */
interface RunningStart {
  child: ChildProcess;
  apiUrl: string;
  dynamoDbPort: number;
  output: () => string;
}

/** `npm start` on this port, its stdout and stderr together. */
function spawnStart(port: number, extraEnv: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: resolve(__dirname, '../..'),
    // As a newcomer's shell has it: none of the variables the tests set to keep their own output quiet.
    env: {
      ...withoutTestQuieting(process.env),
      PORT: String(port),
      DYNAMODB_ENDPOINT: '',
      STRIPE_SECRET_KEY: '',
      LOCAL_RUNTIME_FILE: runtimeFile,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function npmStart(extraEnv: Record<string, string> = {}): Promise<RunningStart> {
  const port = await freePort();
  const { child, output } = spawnStart(port, extraEnv);
  const deadline = Date.now() + 45_000;
  while (!/Press Ctrl-C to stop/.test(output())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not get ready:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const dynamoDbPort = Number(/DynamoDB: http:\/\/127\.0\.0\.1:(\d+)/.exec(output())?.[1]);
  return { child, apiUrl: `http://127.0.0.1:${port}`, dynamoDbPort, output };
}

function withoutTestQuieting(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _warning, POWERTOOLS_METRICS_DISABLED: _metrics, POWERTOOLS_LOG_LEVEL: _logs, ...rest } = env;
  return rest;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolvePort(true);
    });
    socket.once('error', () => resolvePort(false));
  });
}

function dynamoDbLocalProcesses(port: number): string[] {
  const found = spawnSync('pgrep', ['-af', `DynamoDBLocal.jar.*-port ${port}`], { encoding: 'utf8' }).stdout;
  return found.split('\n').filter((line) => line.trim() !== '');
}

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const charge = (apiUrl: string, orderId: string) =>
  fetch(`${apiUrl}/payments`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ orderId, amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa' }),
  });

describe('npm start', () => {
  let running: RunningStart | undefined;
  afterEach(() => running?.child.kill('SIGKILL'));

  it('serves POST /payments end to end and stops every part on Ctrl-C', async () => {
    running = await npmStart();
    expect(running.output()).toContain(`curl -i -X POST ${running.apiUrl}/payments`);
    expect(running.output()).not.toContain('NodeVersionSupportWarning');

    const first = await charge(running.apiUrl, 'smoke-1');
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ orderId: 'smoke-1', status: 'charged', paymentStatus: 'succeeded' });
    const replay = await charge(running.apiUrl, 'smoke-1');
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await portAnswers(running.dynamoDbPort)).toBe(true);

    // The async path: queued, then charged by the local worker, then visible through GET.
    const queued = await fetch(`${running.apiUrl}/payments/async`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ orderId: 'smoke-2', amount: 1999, currency: 'eur', paymentMethod: 'pm_card_visa' }),
    });
    expect(queued.status).toBe(202);
    const apiUrl = running.apiUrl;
    const statusOf = async () => ((await (await fetch(`${apiUrl}/payments/smoke-2`)).json()) as { status?: string }).status;
    const charged = await waitFor(async () => (await statusOf()) === 'charged', 15_000);
    expect(charged).toBe(true);

    // A dev server's output: one line per request, and no handler logs unless asked.
    expect(running.output()).toMatch(/^POST \/payments 201 \d+ ms smoke-1$/m);
    expect(running.output()).toMatch(/^POST \/payments 200 \d+ ms smoke-1$/m);
    expect(running.output()).toMatch(/^POST \/payments\/async 202 \d+ ms smoke-2$/m);
    expect(running.output()).toMatch(/^GET \/payments\/smoke-2 200 \d+ ms smoke-2$/m);
    expect(running.output()).not.toContain('charge finished');

    // The script that checks a deployed stack, against this one, as the banner (and the README) says to run it.
    expect(running.output()).toContain('npm run smoke -- --local\n');
    const smoke = spawnSync('npm', ['run', 'smoke', '--', '--local'], {
      cwd: resolve(__dirname, '../..'),
      env: { ...withoutTestQuieting(process.env), LOCAL_RUNTIME_FILE: runtimeFile },
      encoding: 'utf8',
    });
    expect(smoke.stdout).toContain('All 12 checks passed.');
    expect(smoke.status).toBe(0);
    const wrongStage = spawnSync('npm', ['run', 'smoke', '--', '--url', `${running.apiUrl}/v0`], {
      cwd: resolve(__dirname, '../..'),
      env: withoutTestQuieting(process.env),
      encoding: 'utf8',
    });
    expect(wrongStage.stdout).toContain('12 of 12 checks failed.');
    expect(wrongStage.status).toBe(1);

    // The operator command finds the running runtime's queues.
    const inspect = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dlq.ts', 'inspect', '--local'], {
      cwd: resolve(__dirname, '../..'),
      env: { ...process.env, LOCAL_RUNTIME_FILE: runtimeFile },
      encoding: 'utf8',
    });
    expect(inspect.status).toBe(0);
    expect(inspect.stdout).toContain('0 message(s) in the dead-letter queue');
    const reconcile = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/reconcile.ts', '--local'], {
      cwd: resolve(__dirname, '../..'),
      env: { ...process.env, LOCAL_RUNTIME_FILE: runtimeFile },
      encoding: 'utf8',
    });
    expect(reconcile.status).toBe(0);
    expect(reconcile.stdout).toMatch(/examined\s*│\s*0/); // nothing pending for long: nothing to settle
    const audit = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/audit.ts', '--local', '--since', '1h', '--json'], {
      cwd: resolve(__dirname, '../..'),
      env: { ...process.env, LOCAL_RUNTIME_FILE: runtimeFile },
      encoding: 'utf8',
    });
    expect(audit.status).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({ paymentsAtStripe: 4, ledgerRecords: 4, discrepancies: [] }); // two orders here, two from the smoke checks

    const exited = new Promise<number | null>((r) => running?.child.once('exit', (code) => r(code)));
    running.child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(runtimeFile)).toBe(false); // removed on the way out
    expect(await portAnswers(running.dynamoDbPort)).toBe(false);
    expect(dynamoDbLocalProcesses(running.dynamoDbPort)).toEqual([]);
  });

  it('names the port, what may hold it and the PORT variable when the port is taken, and exits 1', async () => {
    const holder = createServer();
    await new Promise<void>((listening) => holder.listen(0, '127.0.0.1', listening));
    const port = (holder.address() as AddressInfo).port;
    try {
      const { child, output } = spawnStart(port);
      const exitCode = await new Promise<number | null>((exited) => child.once('exit', exited));
      expect(exitCode).toBe(1);
      expect(output()).toContain(`port ${port} is already in use (another npm start?)`);
      expect(output()).toContain(`lsof -i :${port}`);
      expect(output()).toContain(`PORT=${port + 1} npm start`);
      expect(existsSync(runtimeFile)).toBe(false);
    } finally {
      holder.close();
    }
  });

  it("prints the handlers' structured logs with LOG_FORMAT=json, never a signing secret it was given, and leaves no DynamoDB Local behind when it is killed outright", async () => {
    running = await npmStart({ LOG_FORMAT: 'json', STRIPE_WEBHOOK_SECRET: 'whsec_given_by_the_user' });
    expect(running.output()).toContain('signing secret from STRIPE_WEBHOOK_SECRET');
    expect((await charge(running.apiUrl, 'logged-1')).status).toBe(201);
    const output = running.output;
    expect(await waitFor(() => /^\{.*"message":"charge finished".*\}$/m.test(output()), 5_000)).toBe(true);
    expect(output()).not.toContain('whsec_given_by_the_user');
    expect(dynamoDbLocalProcesses(running.dynamoDbPort)).toHaveLength(1);
    running.child.kill('SIGKILL');
    const port = running.dynamoDbPort;
    expect(await waitFor(() => dynamoDbLocalProcesses(port).length === 0, 5_000)).toBe(true);
  });
});
