import { Logger } from '@aws-lambda-powertools/logger';

/**
 * A Powertools Logger as the Lambdas use it (JSON lines, every level), and what it wrote.
 * Powertools writes through a Console on process.stdout and process.stderr; both are captured
 * (and kept off the test output) from the moment the logger is made until `restore()`.
 */
export function capturedLogger(): { logger: Logger; output: () => string; entries: () => Array<Record<string, unknown>>; restore: () => void } {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
  const logger = new Logger({ serviceName: 'payments', logLevel: 'DEBUG' });
  const output = () => chunks.join('');
  return {
    logger,
    output,
    entries: () =>
      output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}
