import type { ReconcileRun, ReconcileSummary } from '../../lambdas/core/reconcile-pending';
import type { ReconcileRefundsSummary } from '../../lambdas/core/reconcile-refunds';
import { createReconcileHandler } from '../../lambdas/handlers/reconcile-pending';
import { lambdaContext } from '../../local/lambda-context';
import { capturedMetrics } from '../support/captured-metrics';
import { silentLogger } from '../support/local-parts';

const RUN_MS = 4 * 60_000;

describe('a reconciler run', () => {
  it('leaves the open refunds a minute of its time however long the pending backlog, so neither backlog starves the other', async () => {
    // A clock that only the work moves: each record or refund looked at takes a second.
    let remaining = RUN_MS;
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => remaining };
    const endless = ({ outOfTime = () => false }: ReconcileRun) => {
      let examined = 0;
      while (!outOfTime()) {
        examined += 1;
        remaining -= 1000;
      }
      return examined;
    };
    const pending = async (run: ReconcileRun = {}): Promise<ReconcileSummary> => {
      const examined = endless(run);
      return { examined, settled: examined, expired: 0, leftAlone: 0, movedOn: 0, waiting: 0, failed: 0, unfinished: true };
    };
    const refunds = async (run: ReconcileRun = {}): Promise<ReconcileRefundsSummary> => {
      const examined = endless(run);
      return { examined, settled: examined, released: 0, unchanged: 0, failed: 0, unfinished: true };
    };
    const captured = capturedMetrics();
    try {
      const summary = await createReconcileHandler({ pending, refunds }, silentLogger, captured.metrics)({}, context);
      expect(summary.refunds.examined).toBe(60);
      // The pending orders had the rest, less the stop margin: from 4 minutes left down to 90 s.
      expect(summary.examined).toBe(151);
    } finally {
      captured.restore();
    }
  });
});
