import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalQueues } from './queues';

/**
 * Where `npm start` leaves its endpoints for the operator commands (`npm run dlq:* -- --local`).
 * LOCAL_RUNTIME_FILE moves it, so the smoke test's runtimes leave a developer's own alone.
 */
export const RUNTIME_FILE = process.env.LOCAL_RUNTIME_FILE || join(__dirname, '..', '.local-runtime.json');

export interface RuntimeFile {
  /** The `npm start` process, so a file left by a killed runtime is recognised as stale. */
  pid: number;
  url: string;
  sqsEndpoint: string;
  queues: LocalQueues;
}

export function writeRuntimeFile(contents: RuntimeFile): () => void {
  writeFileSync(RUNTIME_FILE, `${JSON.stringify(contents, null, 2)}\n`);
  return () => rmSync(RUNTIME_FILE, { force: true });
}

export function readRuntimeFile(): RuntimeFile {
  let contents: RuntimeFile | undefined;
  try {
    contents = JSON.parse(readFileSync(RUNTIME_FILE, 'utf8')) as RuntimeFile;
    process.kill(contents.pid, 0);
    return contents;
  } catch {
    const why = contents === undefined ? 'not found' : `names process ${contents.pid}, which is not running`;
    throw new Error(`${RUNTIME_FILE} ${why}: start the local runtime with \`npm start\` first`);
  }
}
