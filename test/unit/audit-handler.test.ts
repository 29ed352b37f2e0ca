import { listedPerSlice, MAX_AUDIT_SLICES } from '../../lambdas/contract/audit-workflow';
import { METRIC_NAMES, METRICS_NAMESPACE, SERVICE_NAME } from '../../lambdas/contract/environment';
import type { AuditReport, SliceReport } from '../../lambdas/core/audit';
import { createAuditSliceHandler } from '../../lambdas/handlers/audit-ledger';
import { createAuditPlanHandler } from '../../lambdas/handlers/audit-plan';
import { createAuditVerdictHandler } from '../../lambdas/handlers/audit-verdict';
import { lambdaContext } from '../../local/lambda-context';
import { capturedLogger } from '../support/captured-logs';
import { CAPTURED_DEPLOYMENT, capturedMetrics } from '../support/captured-metrics';
import { silentLogger } from '../support/local-parts';

const NOW = new Date('2026-11-28T12:00:00Z');
const differences = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => ({ kind: 'payment_without_record' as const, orderId: `o-${from + i}`, paymentId: `pi_${from + i}` }));
const sliceReport = (count: number, from = 0): SliceReport => ({
  paymentsAtStripe: 5,
  ledgerRecords: 5,
  discrepancies: differences(count, from),
  unlisted: 0,
});

describe('the audit plan', () => {
  it('cuts the window from `since` ago until `settledFor` ago into slices, and says how many differences each lists', async () => {
    const plan = await createAuditPlanHandler(3600, () => NOW)({ since: '25h', settledFor: '30m' });
    expect(plan).toMatchObject({ since: '2026-11-27T10:30:00.000Z', until: '2026-11-28T11:30:00.000Z', sliceSeconds: 3600 });
    expect(plan.slices).toHaveLength(25);
    expect(plan.slices.slice(0, 2)).toEqual(['2026-11-27T10:30:00.000Z', '2026-11-27T11:30:00.000Z']);
    expect(plan.listAtMost).toBe(listedPerSlice(25));
  });

  it("cuts on whole seconds, as Stripe's `created` is, so no PaymentIntent is listed by two slices", async () => {
    const plan = await createAuditPlanHandler(60, () => new Date('2026-11-28T12:00:00.789Z'))({ since: '2m' });
    expect(plan).toMatchObject({
      since: '2026-11-28T11:58:00.000Z',
      until: '2026-11-28T12:00:00.000Z',
      slices: ['2026-11-28T11:58:00.000Z', '2026-11-28T11:59:00.000Z'],
    });
  });

  it('refuses a window of more slices than one run compares, saying how long a window may be', async () => {
    await expect(createAuditPlanHandler(60, () => NOW)({ since: `${MAX_AUDIT_SLICES + 1}m` })).rejects.toThrow(/at most 25h at a time/);
  });
});

describe('a slice of the audit', () => {
  it('compares its own slice, ending at the window at the latest, and lists at most what the plan allows', async () => {
    const asked: string[] = [];
    const compare = createAuditSliceHandler(async (since, until): Promise<AuditReport> => {
      asked.push(`${since.toISOString()} ${until?.toISOString()}`);
      return { since: since.toISOString(), until: `${until?.toISOString()}`, paymentsAtStripe: 5, ledgerRecords: 5, discrepancies: differences(3) };
    }, silentLogger);
    const window = { until: '2026-11-28T11:30:00.000Z', sliceSeconds: 3600, listAtMost: 2 };
    // Only what the verdict needs: each slice's window is the plan's, and Step Functions payloads are small.
    expect(await compare({ ...window, since: '2026-11-28T10:00:00.000Z' }, lambdaContext())).toEqual({
      paymentsAtStripe: 5,
      ledgerRecords: 5,
      discrepancies: differences(2),
      unlisted: 1,
    });
    await compare({ ...window, since: '2026-11-28T11:00:00.000Z' });
    expect(asked).toEqual(['2026-11-28T10:00:00.000Z 2026-11-28T11:00:00.000Z', '2026-11-28T11:00:00.000Z 2026-11-28T11:30:00.000Z']);
  });

  it('logs every difference it finds in lines CloudWatch Logs keeps whole (at most 256 KB each), however many there are', async () => {
    // orderIds of 255 characters, the longest the API takes, in the three fields that can name one.
    const longest = (i: number) => `${String(i).padStart(6, '0')}${'x'.repeat(249)}`;
    const found = Array.from({ length: 1_000 }, (_, i) => ({
      kind: 'payment_of_another_order' as const,
      orderId: longest(i),
      paymentId: `pi_${'a'.repeat(24)}`,
      ledger: longest(i),
      stripe: longest(i + 1),
    }));
    const logs = capturedLogger();
    try {
      await createAuditSliceHandler(
        async (since, until) => ({
          since: since.toISOString(),
          until: `${until?.toISOString()}`,
          paymentsAtStripe: 1_000,
          ledgerRecords: 1_000,
          discrepancies: found,
        }),
        logs.logger,
      )({ since: '2026-11-28T10:00:00.000Z', until: '2026-11-28T11:00:00.000Z', sliceSeconds: 3600, listAtMost: 0 });
      const lines = logs
        .output()
        .split('\n')
        .filter((line) => line.includes('differ in this slice'));
      for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(256 * 1024);
      expect(lines.flatMap((line) => (JSON.parse(line) as { discrepancies: unknown[] }).discrepancies)).toEqual(found);
    } finally {
      logs.restore();
    }
  });
});

describe('the verdict of a run', () => {
  it.each([
    [0, 0],
    [2, 0],
    [1, 4],
  ])('emits the number of differences (%i listed, %i unlisted) as one EMF metric, which the alarm reads, and logs the verdict', async (listed, unlisted) => {
    const captured = capturedMetrics();
    const { logs } = captured;
    try {
      const verdict = await createAuditVerdictHandler(captured.metrics, logs.logger)(
        { since: 'a', until: 'b', reports: [sliceReport(listed), { ...sliceReport(0), unlisted }] },
        lambdaContext(),
      );
      expect(verdict).toMatchObject({ slices: 2, paymentsAtStripe: 10, ledgerRecords: 10, unlisted, discrepancies: { length: listed } });
    } finally {
      captured.restore();
    }
    const blobs = captured.blobs();
    expect(blobs).toHaveLength(1);
    expect(blobs[0]).toMatchObject({
      metrics: { [METRIC_NAMES.auditDiscrepancies]: listed + unlisted },
      dimensions: [['service', 'deployment']],
      values: { service: SERVICE_NAME, deployment: CAPTURED_DEPLOYMENT },
    });
    expect(blobs[0].values._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Metrics: [{ Name: METRIC_NAMES.auditDiscrepancies, Unit: 'Count' }] }],
    });
    const level = listed + unlisted > 0 ? 'ERROR' : 'INFO';
    expect(logs.entries()).toContainEqual(expect.objectContaining({ level, ledgerRecords: 10 }));
  });

  it('lists a difference found from both sides of a slice edge once', async () => {
    const verdict = await createAuditVerdictHandler(
      capturedMetrics().metrics,
      silentLogger,
    )({ since: 'a', until: 'b', reports: [sliceReport(2), sliceReport(2, 1)] });
    expect(verdict.discrepancies).toEqual(differences(3));
  });
});
