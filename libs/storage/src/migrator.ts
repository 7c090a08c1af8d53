import type { Database, Migration, Queryable } from './database.port';
import type { StorageLogger } from './storage.logger';

/** Arbitrary constant shared by every replica: "the schema migration lock". */
export const MIGRATION_LOCK_KEY = 7_270_913_401;

export interface MigrationReport {
  /** ids applied by this run, in order */
  applied: string[];
  /** ids needing pgvector, skipped by this run (they run once it is available) */
  skipped: string[];
}

export class MigrationError extends Error {
  constructor(
    readonly migrationId: string,
    cause: unknown,
  ) {
    super(
      `migration ${migrationId} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'MigrationError';
  }
}

/**
 * Applies migrations in id order, each exactly once, recorded in
 * `schema_migrations`. Everything happens in one transaction that first takes a
 * transaction-scoped advisory lock, so replicas booting together queue behind
 * each other and the later ones find the work done; a failing migration rolls
 * the whole run back. Consequently a migration cannot use statements that refuse
 * to run inside a transaction (e.g. CREATE INDEX CONCURRENTLY).
 */
export class Migrator {
  constructor(
    private readonly db: Database,
    private readonly logger?: StorageLogger,
  ) {}

  async migrate(migrations: readonly Migration[]): Promise<MigrationReport> {
    const sorted = [...migrations].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].id === sorted[i - 1].id)
        throw new Error(`duplicate migration id ${sorted[i].id}`);
    }
    const report = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await tx.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           id text PRIMARY KEY,
           status text NOT NULL CHECK (status IN ('applied', 'skipped')),
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const done = await this.statuses(tx);
      const out: MigrationReport = { applied: [], skipped: [] };
      for (const m of sorted) {
        if (done.get(m.id) === 'applied') continue;
        if (m.requiresVector && !this.db.hasVector) {
          if (!done.has(m.id)) {
            await tx.query(`INSERT INTO schema_migrations (id, status) VALUES ($1, 'skipped')`, [
              m.id,
            ]);
          }
          out.skipped.push(m.id);
          continue;
        }
        try {
          await tx.query(m.up);
        } catch (err) {
          throw new MigrationError(m.id, err);
        }
        await tx.query(
          `INSERT INTO schema_migrations (id, status) VALUES ($1, 'applied')
           ON CONFLICT (id) DO UPDATE SET status = 'applied', applied_at = now()`,
          [m.id],
        );
        out.applied.push(m.id);
      }
      return out;
    });
    if (report.applied.length > 0)
      this.logger?.log(`applied migrations: ${report.applied.join(', ')}`);
    if (report.skipped.length > 0) {
      this.logger?.warn(
        `skipped migrations (pgvector not available): ${report.skipped.join(', ')}`,
      );
    }
    return report;
  }

  /** id -> status of every recorded migration */
  async status(): Promise<Map<string, 'applied' | 'skipped'>> {
    return this.statuses(this.db);
  }

  private async statuses(q: Queryable): Promise<Map<string, 'applied' | 'skipped'>> {
    const exists = await q.query<{ t: string | null }>(
      `SELECT to_regclass('schema_migrations')::text AS t`,
      [],
    );
    if (!exists.rows[0]?.t) return new Map();
    const r = await q.query<{ id: string; status: 'applied' | 'skipped' }>(
      'SELECT id, status FROM schema_migrations',
      [],
    );
    return new Map(r.rows.map((row) => [row.id, row.status]));
  }
}
