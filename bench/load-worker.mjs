/**
 * Load-generator process. The runner sends `{ id, op, args }` over IPC and gets
 * `{ id, result }` or `{ id, error }` back; `op` names a function of
 * bench/lib/load.mjs. Exits when the runner disconnects.
 */
import { operations } from './lib/load.mjs';

if (typeof process.send !== 'function') {
  process.stderr.write('load-worker must be started by bench/run.mjs (IPC channel missing)\n');
  process.exit(2);
}

process.on('message', async ({ id, op, args }) => {
  const fn = operations[op];
  try {
    if (!fn) throw new Error(`unknown operation ${op}`);
    process.send({ id, result: await fn(args) });
  } catch (e) {
    process.send({ id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
