import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_NAMES } from '../../lambdas/contract/environment';
import { chargeQueue, retryCeilingSeconds, retryFloorSeconds } from '../../lambdas/contract/queues';
import { synthesize } from '../support/synth';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

const duration = (seconds: number): string => {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${seconds % 60} s` : ''}`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
};

describe('the README stays true to the contract', () => {
  it('shows the retry schedule the worker uses, row by row, and the receive that dead-letters', () => {
    let [shortest, longest] = [0, 0];
    for (let n = 1; n < chargeQueue.maxReceiveCount; n += 1) {
      [shortest, longest] = [shortest + retryFloorSeconds(n), longest + retryCeilingSeconds(n)];
      expect(readme).toContain(
        `| ${n} | ${duration(retryFloorSeconds(n))} – ${duration(retryCeilingSeconds(n))} | ${duration(shortest)} – ${duration(longest)} |`,
      );
    }
    expect(readme).toContain(`| ${chargeQueue.maxReceiveCount} | — | SQS moves the message to the dead-letter queue |`);
    expect(readme).toContain(`after ${chargeQueue.maxReceiveCount} receives`);
  });
});

describe("the README's stack outputs", () => {
  const outputs = Object.keys(synthesize().template.toJSON().Outputs as Record<string, unknown>).sort();
  const table = readme.slice(readme.indexOf('### Stack outputs'), readme.indexOf('`npx cdk synth` works offline'));
  const documented = [...table.matchAll(/^\| (.+?) \|/gm)].flatMap(([, cell]) => [...cell.matchAll(/`(\w+)`/g)].map(([, name]) => name)).sort();
  const mentioned = [...readme.matchAll(/<(\w+) output>|outputs? (?:its name )?as `(\w+)`/g)].map(([, a, b]) => a ?? b);

  it('names every output the template has, and no other', () => {
    expect(documented).toEqual(outputs);
  });

  it('mentions only outputs the template has', () => {
    expect(mentioned.length).toBeGreaterThan(0);
    for (const name of mentioned) expect(outputs).toContain(name);
  });
});

describe("the README's metrics table", () => {
  const table = readme.slice(readme.indexOf('### Metrics'), readme.indexOf('### Operator commands'));
  const documented = [...table.matchAll(/^\| (.+?) \| (Count|Milliseconds) \|/gm)].flatMap(([, cell]) =>
    [...cell.matchAll(/`(\w+)`/g)].map(([, name]) => name),
  );

  it('lists every metric the service publishes, and no other', () => {
    expect(documented.filter((name) => name !== 'ColdStart').sort()).toEqual(Object.values(METRIC_NAMES).sort());
  });
});
