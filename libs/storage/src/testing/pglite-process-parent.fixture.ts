// A gateway stand-in for `pglite-process.database.spec.ts`: opens the embedded
// database in its own process, prints that process's id, and waits to be killed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteProcessDatabase } from '../pglite-process.database';

void (async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-pglite-orphan-'));
  const db = await PgliteProcessDatabase.create({
    dataDir,
    template: process.env.PGLITE_TEMPLATE,
  });
  await db.query('SELECT 1');
  process.stdout.write(`pid ${db.pid} dir ${dataDir}\n`);
  setInterval(() => undefined, 60_000);
})();
