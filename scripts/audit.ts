/**
 * Compares this deployment's PaymentIntents at Stripe with the ledger over a window:
 *   npm run audit [-- --since 24h] [--json]          invokes the deployed audit function (output AuditFunctionName)
 *   npm run audit -- --local [--since 24h] [--json]  asks a running `npm start`
 * Prints the totals and a table of the differences (or, with --json, the report as JSON) and exits
 * 1 when Stripe and the ledger differ. In AWS the operator needs cloudformation:DescribeStacks on
 * the stack and lambda:InvokeFunction on the audit function.
 */

import { AUDIT_DEFAULT_WINDOW } from '../lambdas/contract/settings';
import type { AuditReport } from '../lambdas/core/audit';
import { runOperation } from './run-operation';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const sinceAt = args.indexOf('--since');
  const since = sinceAt >= 0 ? args[sinceAt + 1] : AUDIT_DEFAULT_WINDOW;
  const report = (await runOperation({ operation: 'audit', functionOutput: 'AuditFunctionName', local: args.includes('--local') }, { since })) as AuditReport;
  if (args.includes('--json')) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const { discrepancies, ...totals } = report;
    console.table({ ...totals, discrepancies: discrepancies.length });
    if (discrepancies.length > 0) console.table(discrepancies);
    else console.log('Stripe and the ledger agree.');
  }
  return report.discrepancies.length > 0 ? 1 : 0;
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  });
