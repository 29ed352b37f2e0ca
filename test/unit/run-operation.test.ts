import { invocationAnswer } from '../../scripts/run-operation';

/** What Lambda's Invoke answers, as the SDK hands it over: the reply's bytes, and FunctionError when the function failed. */
const invoked = (reply: string, FunctionError?: string) => ({ Payload: new TextEncoder().encode(reply), FunctionError });

describe("an operator function's reply (npm run reconcile, audit, events:catch-up)", () => {
  it('is the answer when the function succeeded', () => {
    expect(invocationAnswer('reconcile', invoked('{"examined":2,"settled":1}'))).toEqual({ examined: 2, settled: 1 });
  });

  it("is an error carrying the function's error report when it failed, JSON or not, never parsed as an answer", () => {
    const report = '{"errorType":"Error","errorMessage":"the ledger is unavailable","trace":[]}';
    expect(() => invocationAnswer('audit', invoked(report, 'Unhandled'))).toThrow(`the audit run failed (Unhandled): ${report}`);
    expect(() => invocationAnswer('catchup', invoked('Task timed out after 900.00 seconds', 'Unhandled'))).toThrow(
      'the catchup run failed (Unhandled): Task timed out after 900.00 seconds',
    );
    expect(() => invocationAnswer('reconcile', { FunctionError: 'Unhandled' })).toThrow('the reconcile run failed (Unhandled): ');
  });
});
