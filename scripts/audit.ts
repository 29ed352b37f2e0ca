/**
 * Compares this deployment's PaymentIntents at Stripe with the ledger over a window:
 *   npm run audit [-- --since 24h] [--json]          runs the deployed audit state machine (output AuditStateMachineArn) and waits for its verdict
 *   npm run audit -- --local [--since 24h] [--json]  asks a running `npm start`, which runs the same state machine locally
 * Prints the totals and a table of the differences (or, with --json, the verdict as JSON) and exits
 * 1 when Stripe and the ledger differ. In AWS the operator needs cloudformation:DescribeStacks on
 * the stack, states:StartExecution on the state machine and states:DescribeExecution on its executions.
 */

import { AUDIT_DEFAULT_WINDOW } from '../lambdas/contract/settings';
import { type AuditVerdict, differencesIn } from '../lambdas/core/audit';
import { askLocalRuntime } from './run-operation';
import { stackOutputs } from './stack-outputs';
import { runExecution, stepFunctionsApi } from './step-functions';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const sinceAt = args.indexOf('--since');
  const since = sinceAt >= 0 ? args[sinceAt + 1] : AUDIT_DEFAULT_WINDOW;
  const verdict = (
    args.includes('--local')
      ? await askLocalRuntime('audit', { since })
      : await runExecution(stepFunctionsApi(), (await stackOutputs({ hasLocalMode: true }))('AuditStateMachineArn'), { since })
  ) as AuditVerdict;
  if (args.includes('--json')) {
    console.log(JSON.stringify(verdict, null, 2));
  } else {
    const { discrepancies, ...totals } = verdict;
    console.table({ ...totals, discrepancies: discrepancies.length });
    if (discrepancies.length > 0) console.table(discrepancies);
    if (verdict.unlisted > 0)
      console.log(`${verdict.unlisted} more differences are in the CompareSlice function's log ("Stripe and the ledger differ in this slice").`);
    if (differencesIn(verdict) === 0) console.log('Stripe and the ledger agree.');
  }
  return differencesIn(verdict) > 0 ? 1 : 0;
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  });
