import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Runs in a detached Node process: when the parent dies (even by SIGKILL, where no exit handler
 * runs), it kills the guarded child, so no DynamoDB Local JVM outlives the process that started it.
 */
const REAPER_SCRIPT = `
const [parentPid, childPid] = process.argv.slice(1).map(Number);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
setInterval(() => {
  if (!alive(childPid)) process.exit(0);
  if (!alive(parentPid)) { try { process.kill(childPid, 'SIGKILL'); } catch {} process.exit(0); }
}, 250);
`;

/**
 * Ties a child process's life to this one: it is killed when this process exits normally, on a
 * crash, or (through a reaper process) when this process is killed outright.
 * Returns a function that stops the child and the reaper.
 */
export function guardChildProcess(child: ChildProcess): () => Promise<void> {
  if (child.pid === undefined) throw new Error('the child process did not start');
  const reaper = spawn(process.execPath, ['-e', REAPER_SCRIPT, String(process.pid), String(child.pid)], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  return async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      // DynamoDB Local exits on SIGTERM within a second; do not wait forever if it does not.
      const timeout = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timeout);
    }
    reaper.kill('SIGKILL');
  };
}
