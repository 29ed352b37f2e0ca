import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import type { StripeEmulator } from '../../local/stripe-emulator/stripe-emulator';
import { newOrderId } from '../support/local-parts';

/**
 * Refunds and disputes made at Stripe behind the service's back, with webhooks switched off (as
 * when an endpoint is disabled or down for longer than Stripe retries): Stripe's Events API
 * catch-up brings them to the ledger, and the audit sees the difference until it has.
 */
let runtime: LocalRuntime;
let emulator: StripeEmulator;
let dir: string;
let runtimeFile: string;
beforeAll(async () => {
  // The schedules are left long: the test runs each command itself, as an operator would.
  runtime = await startLocalRuntime({
    port: 0,
    namePrefix: `cu${randomUUID().slice(0, 6)}-`,
    eventsCatchUpIntervalSeconds: 3600,
    reconcileIntervalSeconds: 3600,
  });
  emulator = runtime.stripeEmulator as StripeEmulator;
  dir = mkdtempSync(join(tmpdir(), 'catch-up-'));
  runtimeFile = join(dir, 'runtime.json');
  writeFileSync(runtimeFile, JSON.stringify({ pid: process.pid, url: runtime.url }));
});
afterAll(async () => {
  await runtime?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** An operator command against this runtime, as `npm run <script> -- --local` runs it. */
async function command(script: string, ...flags: string[]): Promise<{ status: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--local', ...flags], {
    cwd: resolve(__dirname, '../..'),
    env: { ...process.env, LOCAL_RUNTIME_FILE: runtimeFile },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const status = await new Promise<number | null>((done) => child.once('exit', done));
  return { status, stdout };
}

const charge = async (orderId: string) => {
  const response = await fetch(`${runtime.url}/payments`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ orderId, amount: 5000, currency: 'eur', paymentMethod: 'pm_card_visa' }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { paymentId: string }).paymentId;
};
const payment = async (orderId: string) => (await fetch(`${runtime.url}/payments/${orderId}`)).json() as Promise<Record<string, unknown>>;

describe('a refund and a dispute made at Stripe while no webhook arrives', () => {
  it('reach the ledger through `npm run events:catch-up`, and `npm run audit` exits 1 until then, 0 after', async () => {
    const [refunded, disputed] = [newOrderId('dashboard-refund'), newOrderId('dashboard-dispute')];
    const [refundedIntent, disputedIntent] = [await charge(refunded), await charge(disputed)];
    await emulator.webhooks.settled();
    expect((await command('scripts/audit.ts')).status).toBe(0);

    emulator.webhooks.disable();
    const refund = emulator.dashboard.refund(refundedIntent, { amount: 1200 });
    const dispute = emulator.dashboard.dispute(disputedIntent);
    expect(await payment(refunded)).toMatchObject({ status: 'charged', refunds: [] });
    const missing = await command('scripts/audit.ts', '--json');
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stdout).discrepancies.map((d: { orderId: string; kind: string }) => [d.orderId, d.kind])).toEqual(
      expect.arrayContaining([
        [refunded, 'refunded'],
        [disputed, 'dispute'],
      ]),
    );

    const caughtUp = await command('scripts/events-catch-up.ts');
    expect(caughtUp.status).toBe(0);
    expect(JSON.parse(caughtUp.stdout)).toMatchObject({ failed: 0, outcomes: { applied: 2 } });
    expect(await payment(refunded)).toMatchObject({
      status: 'partially_refunded',
      amountRefunded: 1200,
      refunds: [{ refundId: `stripe#${refund.id}`, amount: 1200, status: 'succeeded', stripeRefundId: refund.id }],
    });
    expect(await payment(disputed)).toMatchObject({ status: 'charged', dispute: { status: 'needs_response', amount: 5000, reason: 'fraudulent' } });
    expect((await command('scripts/audit.ts')).status).toBe(0);

    // The dispute is lost; the next run brings that too, and what it already applied is a duplicate.
    emulator.disputes.close(dispute.id, 'lost');
    const next = JSON.parse((await command('scripts/events-catch-up.ts')).stdout);
    // charge.dispute.updated and .closed both say `lost`: the first applied, the other stale (or by event id, in one second).
    expect(next).toMatchObject({ failed: 0, outcomes: { applied: expect.any(Number) } });
    expect(next.outcomes.applied + (next.outcomes.stale ?? 0)).toBe(2);
    expect(next.outcomes.duplicate).toBeGreaterThanOrEqual(2);
    expect(await payment(disputed)).toMatchObject({ dispute: { status: 'lost' } });
    emulator.webhooks.enable();
  });

  it('a refund through the API is not refunded again by a later Dashboard refund the ledger has not seen: Stripe refuses, the reservation is released', async () => {
    const orderId = newOrderId('api-after-dashboard');
    const paymentId = await charge(orderId);
    emulator.webhooks.disable();
    emulator.dashboard.refund(paymentId);
    const refused = await fetch(`${runtime.url}/payments/${orderId}/refunds`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refundId: 'r-1', amount: 100 }),
    });
    expect(refused.status).toBe(422);
    await command('scripts/events-catch-up.ts');
    expect(await payment(orderId)).toMatchObject({ status: 'refunded', amountRefunded: 5000 });
    emulator.webhooks.enable();
  });
});
