/**
 * Writes docs/openapi.json from the contract (scripts/openapi-document.ts, which reads lambdas/contract/):
 *   npm run openapi               rewrites the file
 *   npm run openapi -- --check    exits 1 when the committed file is not what the contract gives (CI)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openApiJson } from './openapi-document';

const file = join(__dirname, '..', 'docs', 'openapi.json');
const json = openApiJson();
// Strict: an unknown option (`--help`, a typo of --check) stops here rather than rewriting the file.
const { values } = parseArgs({ options: { check: { type: 'boolean' } } });

if (values.check) {
  const committed = (() => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined; // a missing file is stale too
    }
  })();
  if (committed !== json) {
    console.error('docs/openapi.json is out of date with lambdas/contract: run `npm run openapi` and commit the result.');
    process.exit(1);
  }
  console.log('docs/openapi.json is up to date.');
} else {
  writeFileSync(file, json);
  console.log('wrote docs/openapi.json');
}
