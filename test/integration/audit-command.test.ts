import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AuditVerdict } from '../../lambdas/core/audit';

/** `npm run audit -- --local` against a stand-in for `npm start` that answers a given report. */
async function runAudit(report: AuditVerdict, ...flags: string[]): Promise<{ status: number | null; stdout: string; asked: string }> {
  let asked = '';
  const server = createServer((request, response) => {
    asked = `${request.method} ${request.url}`;
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(report));
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const dir = mkdtempSync(join(tmpdir(), 'audit-command-'));
  const runtimeFile = join(dir, 'runtime.json');
  writeFileSync(runtimeFile, JSON.stringify({ pid: process.pid, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/audit.ts', '--local', ...flags], {
      cwd: resolve(__dirname, '../..'),
      env: { ...process.env, LOCAL_RUNTIME_FILE: runtimeFile },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const status = await new Promise<number | null>((done) => child.once('exit', done));
    return { status, stdout, asked };
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const report = (discrepancies: AuditVerdict['discrepancies'], unlisted = 0): AuditVerdict => ({
  since: '2026-11-27T12:00:00.000Z',
  until: '2026-11-28T12:00:00.000Z',
  slices: 24,
  paymentsAtStripe: 3,
  ledgerRecords: 3,
  discrepancies,
  unlisted,
});

describe('npm run audit', () => {
  it('prints the totals, says they agree and exits 0 when nothing differs, for the window asked', async () => {
    const { status, stdout, asked } = await runAudit(report([]), '--since', '7d');
    expect(status).toBe(0);
    expect(asked).toBe('POST /_local/audit?since=7d');
    expect(stdout).toContain('Stripe and the ledger agree.');
    expect(stdout).toMatch(/paymentsAtStripe\s*│\s*3/);
  });

  it('prints a table of the differences and exits 1 when anything differs; --json prints the report', async () => {
    const differences = report([{ kind: 'payment_without_record', orderId: 'order-9', paymentId: 'pi_9' }]);
    const table = await runAudit(differences);
    expect(table.status).toBe(1);
    expect(table.asked).toBe('POST /_local/audit?since=24h');
    expect(table.stdout).toContain('payment_without_record');
    const json = await runAudit(differences, '--json');
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(differences);
  });

  it('exits 1 on differences the verdict only counts (too many to list), and says where they are', async () => {
    const counted = await runAudit(report([], 3));
    expect(counted.status).toBe(1);
    expect(counted.stdout).toContain('3 more differences are in the CompareSlice function');
    expect(counted.stdout).not.toContain('agree');
  });

  it('without an AWS region says to set AWS_REGION or AWS_PROFILE, or to add -- --local, and exits 2', () => {
    const { AWS_REGION: _region, AWS_DEFAULT_REGION: _defaultRegion, AWS_PROFILE: _profile, STACK_NAME: _stack, ...environment } = process.env;
    const nowhere = join(tmpdir(), `no-aws-config-${process.pid}`);
    const audit = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/audit.ts'], {
      cwd: resolve(__dirname, '../..'),
      env: { ...environment, AWS_CONFIG_FILE: nowhere, AWS_SHARED_CREDENTIALS_FILE: nowhere },
      encoding: 'utf8',
    });
    expect(audit.status).toBe(2);
    expect(audit.stderr.trim()).toBe(
      'no AWS region: set AWS_REGION (or AWS_PROFILE, a profile with a region) to act on the deployed stack ExactlyOncePayments, or add `-- --local` to act on the local runtime of `npm start`',
    );
  });
});
