import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteDatabase } from '../pglite.database';
import { PgliteProcessDatabase } from '../pglite-process.database';

// Bump when PGlite or pgvector change: the dump is tied to their binary format.
export const PGLITE_TEMPLATE_FILE = join(tmpdir(), 'switchboard-pglite-0.5.14-pgvector-0.0.15.tar');
const TEMPLATE_FILE = PGLITE_TEMPLATE_FILE;

let inProcess: Promise<Blob> | undefined;

async function template(): Promise<Blob> {
  try {
    return new Blob([await readFile(TEMPLATE_FILE)]);
  } catch {
    // first use on this machine: run initdb once, share the result with every
    // other test file through the file (written atomically via rename)
    const db = await PgliteDatabase.create({ inMemory: true });
    const dump = await db.dumpDataDir();
    await db.close();
    const tmp = `${TEMPLATE_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
    await rename(tmp, TEMPLATE_FILE);
    return dump;
  }
}

/** the empty-cluster dump, for `PgliteDatabase.create({ loadDataDir })` (also on disk) */
export function pgliteTemplate(): Promise<Blob> {
  inProcess ??= template();
  return inProcess;
}

/**
 * A fresh in-memory PGlite (with pgvector) for tests, loaded from a cached
 * empty-cluster dump: a few hundred ms instead of a cold initdb.
 */
export async function createTestPglite(): Promise<PgliteDatabase> {
  return PgliteDatabase.create({ inMemory: true, loadDataDir: await pgliteTemplate() });
}

/**
 * The embedded database in its own process on a fresh temporary directory,
 * seeded from the same dump; `drop` closes it and deletes the directory.
 */
export async function createTestPgliteProcess(): Promise<{
  db: PgliteProcessDatabase;
  dataDir: string;
  drop: () => Promise<void>;
}> {
  await pgliteTemplate();
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-pglite-process-'));
  const db = await PgliteProcessDatabase.create({ dataDir, template: TEMPLATE_FILE });
  return {
    db,
    dataDir,
    drop: async () => {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
