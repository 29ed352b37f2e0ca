import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { burstDrainSeconds, stripeBudgetOf } from '../../lambdas/contract/stripe-budget';

const scalingDoc = readFileSync(join(__dirname, '..', '..', 'docs', 'scaling.md'), 'utf8');

/** The rows of the budget table in docs/scaling.md, as the code computes them. */
function budgetRow(requestsPerSecond: number): string {
  const b = stripeBudgetOf(requestsPerSecond);
  const cells = [
    requestsPerSecond,
    `${b.syncCharges.rateLimit} / ${b.syncCharges.burstLimit}`,
    b.refunds.rateLimit,
    `${b.worker.batchSize} × ${b.worker.maxConcurrency}, ${b.worker.requestsPerSecond}`,
    b.worker.ratedOrdersPerSecond,
    `${b.reconciler.requestsPerSecond} × ${b.reconciler.parallelism}`,
    b.audit.maxConcurrency,
    b.ordersPerSecond,
    b.webhook.rateLimit,
  ];
  return `| ${cells.join(' | ')} |`;
}

describe('docs/scaling.md', () => {
  it('shows the budget as stripeBudgetOf shares it out: update the table when the shares change', () => {
    const table = scalingDoc.slice(scalingDoc.indexOf('<!-- budget-table:start -->'), scalingDoc.indexOf('<!-- budget-table:end -->'));
    const rows = table.split('\n').filter((line) => /^\| \d/.test(line));
    expect(rows).toEqual([25, 150, 1_500, 15_000].map(budgetRow));
  });

  it('promises the burst drain the arithmetic gives', () => {
    expect(scalingDoc).toContain('a 10× burst of one minute drains within 10 minutes at any budget');
    for (const rate of [25, 150, 1_500, 15_000]) expect(burstDrainSeconds(stripeBudgetOf(rate))).toBeLessThanOrEqual(600);
  });
});
