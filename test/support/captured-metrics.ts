import type { Metrics } from '@aws-lambda-powertools/metrics';
import { serviceMetrics } from '../../lambdas/handlers/outcome-metrics';
import { capturedLogger } from './captured-logs';

/** The deployment the captured metrics are published for. */
export const CAPTURED_DEPLOYMENT = 'test-deployment';

/** The EMF blob of one publish: the metric values by name, and its dimensions. */
export interface EmfBlob {
  metrics: Record<string, number | number[]>;
  dimensions: string[][];
  values: Record<string, unknown>;
}

/**
 * The service's metrics as the handlers publish them (EMF lines on stdout), captured. The tests
 * switch metrics off (POWERTOOLS_METRICS_DISABLED) to keep their output readable; these are on.
 */
export function capturedMetrics(): { metrics: Metrics; blobs: () => EmfBlob[]; logs: ReturnType<typeof capturedLogger>; restore: () => void } {
  const output = capturedLogger();
  // Off until restore(): single metrics (cold start, dead letters) are new instances that read it too.
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  const metrics = serviceMetrics(CAPTURED_DEPLOYMENT);
  const restore = () => {
    if (disabled !== undefined) process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    output.restore();
  };
  const blobs = () =>
    output
      .entries()
      .filter((entry) => entry._aws !== undefined)
      .map((entry) => {
        const [directive] = (entry._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][]; Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics;
        return {
          metrics: Object.fromEntries(directive.Metrics.map(({ Name }) => [Name, entry[Name] as number | number[]])),
          dimensions: directive.Dimensions,
          values: entry,
        };
      });
  // The same capture holds the log lines of `logs.logger`: one capture of stdout at a time.
  return { metrics, blobs, logs: output, restore };
}
