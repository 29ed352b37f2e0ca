import { METRIC_NAMES, METRICS_NAMESPACE, SERVICE_NAME } from '../../lambdas/contract/environment';
import type { AuditReport } from '../../lambdas/core/audit';
import { createAuditHandler } from '../../lambdas/handlers/audit-ledger';
import { serviceMetrics } from '../../lambdas/handlers/outcome-metrics';
import { lambdaContext } from '../../local/lambda-context';
import { capturedLogger } from '../support/captured-logs';
import { CAPTURED_DEPLOYMENT, capturedMetrics } from '../support/captured-metrics';
import { silentLogger } from '../support/local-parts';

const report = (count: number): AuditReport => ({
  since: '2026-11-27T12:00:00.000Z',
  until: '2026-11-28T12:00:00.000Z',
  paymentsAtStripe: 5,
  ledgerRecords: 5,
  discrepancies: Array.from({ length: count }, (_, i) => ({ kind: 'payment_without_record' as const, orderId: `o-${i}`, paymentId: `pi_${i}` })),
});

describe('the audit function', () => {
  it('compares the window it is asked for: from `since` ago until `settledFor` ago', async () => {
    const windows: Array<[number, number]> = [];
    const handler = createAuditHandler(
      async (since, until) => {
        windows.push([Date.now() - since.getTime(), Date.now() - (until as Date).getTime()]);
        return report(0);
      },
      serviceMetrics(),
      silentLogger,
    );
    const output = capturedLogger();
    try {
      await handler({ since: '25h', settledFor: '30m' }, lambdaContext());
    } finally {
      output.restore();
    }
    const [[sinceAgo, untilAgo]] = windows;
    expect(untilAgo).toBeGreaterThanOrEqual(30 * 60_000);
    expect(untilAgo).toBeLessThan(31 * 60_000);
    expect(sinceAgo - untilAgo).toBe(25 * 3_600_000);
  });

  it.each([0, 2])('emits the number of differences (%i) as one EMF metric, which the alarm reads, and logs the report', async (count) => {
    const captured = capturedMetrics();
    const { logs } = captured;
    let windows: string[] = [];
    try {
      const handler = createAuditHandler(
        async (since) => {
          windows = [since.toISOString()];
          return report(count);
        },
        captured.metrics,
        logs.logger,
      );
      await expect(handler({ since: '24h' }, lambdaContext())).resolves.toMatchObject({ discrepancies: { length: count } });
    } finally {
      captured.restore();
    }
    const blobs = captured.blobs();
    expect(blobs).toHaveLength(1);
    expect(blobs[0]).toMatchObject({
      metrics: { [METRIC_NAMES.auditDiscrepancies]: count },
      dimensions: [['service', 'deployment']],
      values: { service: SERVICE_NAME, deployment: CAPTURED_DEPLOYMENT },
    });
    expect(blobs[0].values._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Metrics: [{ Name: METRIC_NAMES.auditDiscrepancies, Unit: 'Count' }] }],
    });
    expect(Date.now() - Date.parse(windows[0])).toBeGreaterThan(23.9 * 3_600_000);
    const level = count > 0 ? 'ERROR' : 'INFO';
    expect(logs.entries()).toContainEqual(expect.objectContaining({ level, ledgerRecords: 5 }));
  });
});
