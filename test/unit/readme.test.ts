import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_NAMES } from '../../lambdas/contract/environment';
import { chargeQueue, retryCeilingSeconds, retryFloorSeconds } from '../../lambdas/contract/queues';
import { synthesize } from '../support/synth';

const root = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');
const architecture = read('docs/architecture.md');
const operations = read('docs/operations.md');
const httpApi = read('docs/http-api.md');
const changelog = read('CHANGELOG.md');

/** The text from one marker to the next, both present and in this order. */
const between = (text: string, from: string, to: string): string => {
  const start = text.indexOf(from);
  const end = text.indexOf(to, start);
  if (start < 0 || end < 0) throw new Error(`no text from "${from}" to "${to}"`);
  return text.slice(start, end);
};

const duration = (seconds: number): string => {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${seconds % 60} s` : ''}`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
};

describe('docs/architecture.md stays true to the contract', () => {
  it('shows the retry schedule the worker uses, row by row, and the receive that dead-letters', () => {
    let [shortest, longest] = [0, 0];
    for (let n = 1; n < chargeQueue.maxReceiveCount; n += 1) {
      [shortest, longest] = [shortest + retryFloorSeconds(n), longest + retryCeilingSeconds(n)];
      expect(architecture).toContain(
        `| ${n} | ${duration(retryFloorSeconds(n))} – ${duration(retryCeilingSeconds(n))} | ${duration(shortest)} – ${duration(longest)} |`,
      );
    }
    expect(architecture).toContain(`| ${chargeQueue.maxReceiveCount} | — | SQS moves the message to the dead-letter queue |`);
    expect(architecture).toContain(`after ${chargeQueue.maxReceiveCount} receives`);
  });
});

describe("docs/operations.md's stack outputs", () => {
  const outputs = Object.keys(synthesize().template.toJSON().Outputs as Record<string, unknown>).sort();
  const table = between(operations, '## Stack outputs', '`npx cdk synth` works offline');
  const documented = [...table.matchAll(/^\| (.+?) \|/gm)].flatMap(([, cell]) => [...cell.matchAll(/`(\w+)`/g)].map(([, name]) => name)).sort();
  // Outputs are named wherever the README's text now lives: the README, docs/ and the changelog.
  const mentioned = [readme, architecture, operations, httpApi, changelog].flatMap((text) =>
    [...text.matchAll(/<(\w+) output>|outputs? (?:its name )?as `(\w+)`/g)].map(([, a, b]) => a ?? b),
  );

  it('names every output the template has, and no other', () => {
    expect(documented).toEqual(outputs);
  });

  it('mentions only outputs the template has', () => {
    expect(mentioned.length).toBeGreaterThan(0);
    for (const name of mentioned) expect(outputs).toContain(name);
  });
});

describe("docs/operations.md's metrics table", () => {
  const table = between(operations, '## Metrics', '## Traces');
  const documented = [...table.matchAll(/^\| (.+?) \| (Count|Milliseconds) \|/gm)].flatMap(([, cell]) =>
    [...cell.matchAll(/`(\w+)`/g)].map(([, name]) => name),
  );

  it('lists every metric the service publishes, and no other', () => {
    expect(documented.filter((name) => name !== 'ColdStart').sort()).toEqual(Object.values(METRIC_NAMES).sort());
  });
});
