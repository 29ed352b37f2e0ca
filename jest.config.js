/** Three suites: pure logic (unit), the CDK template (infra), and real local parts (integration). */
// tsconfig's isolatedModules makes it transpile only; tsc type-checks. CommonJS output turns a dynamic
// import (the Stripe SDK, loaded on first need) into a require, which Jest runs without VM modules.
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs' } }] };
const project = (name, extra = {}) => ({
  displayName: name,
  testEnvironment: 'node',
  transform,
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  ...extra,
});

module.exports = {
  projects: [
    project('unit', { setupFiles: ['<rootDir>/test/support/quiet-logs.ts'] }),
    project('infra'),
    // Each integration file starts its own DynamoDB Local and Stripe emulator, so files may run in parallel.
    project('integration', { slowTestThreshold: 30, setupFiles: ['<rootDir>/test/support/quiet-logs.ts'] }),
  ],
  testTimeout: 60_000,
  // Jest's default on 2 cores is one worker; the integration files mostly wait on their emulators, so two halve the run.
  maxWorkers: 2,
};
