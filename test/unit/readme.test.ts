import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chargeQueue, retryCeilingSeconds, retryFloorSeconds } from '../../lambdas/contract/queues';

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
      expect(readme).toContain(`| ${n} | ${duration(retryFloorSeconds(n))} – ${duration(retryCeilingSeconds(n))} | ${duration(shortest)} – ${duration(longest)} |`);
    }
    expect(readme).toContain(`| ${chargeQueue.maxReceiveCount} | — | SQS moves the message to the dead-letter queue |`);
    expect(readme).toContain(`after ${chargeQueue.maxReceiveCount} receives`);
  });
});
