import { Migrator, type Database } from '@switchboard/storage';
import { createTestPglite, createTestPostgres } from '@switchboard/storage/testing';
import { identityMigrations } from '../identity.migrations';

export interface TestDb {
  db: Database;
  close(): Promise<void>;
}

/** both adapters the app can run on, each migrated with the identity schema */
export const DATABASES: Array<[string, () => Promise<TestDb>]> = [
  [
    'postgres',
    async () => {
      const pg = await createTestPostgres({ poolSize: 4 });
      await new Migrator(pg.db).migrate(identityMigrations);
      return { db: pg.db, close: () => pg.drop() };
    },
  ],
  [
    'pglite',
    async () => {
      const db = await createTestPglite();
      await new Migrator(db).migrate(identityMigrations);
      return { db, close: () => db.close() };
    },
  ],
];
