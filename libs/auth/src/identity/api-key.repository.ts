import type { Database, Queryable } from '@switchboard/storage';
import type { PrincipalLimits, Scope } from '../principal';
import type { ApiKeyRecord } from './identity.types';
import { parseJson, toDate } from '@switchboard/storage';

/** a stored key including its hash; never leaves the identity code */
export interface ApiKeyRow extends ApiKeyRecord {
  /** hex HMAC-SHA256 of the key */
  hash: string;
}

export interface ApiKeyFilter {
  ownerUserId?: string;
  accountId?: string;
}

export interface ApiKeyRepository {
  insert(row: ApiKeyRow): Promise<void>;
  findByPrefix(prefix: string): Promise<ApiKeyRow | undefined>;
  findById(id: string): Promise<ApiKeyRecord | undefined>;
  list(filter: ApiKeyFilter): Promise<ApiKeyRecord[]>;
  /** sets revoked_at unless already revoked; undefined when the id is unknown */
  revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined>;
  /**
   * Atomically: inserts `next` and ends the old key's life at `graceUntil`
   * (never extending an earlier end). Returns undefined if `oldId` is unknown;
   * `build` sees the current old row and may throw to abort.
   */
  rotate(
    oldId: string,
    graceUntil: Date,
    build: (old: ApiKeyRecord) => ApiKeyRow,
  ): Promise<{ previous: ApiKeyRecord; next: ApiKeyRecord } | undefined>;
  setLimits(id: string, limits: PrincipalLimits | null): Promise<ApiKeyRecord | undefined>;
  /** last_used_at = max(current, at) for many keys in one statement */
  touchMany(entries: ReadonlyArray<{ id: string; at: Date }>): Promise<void>;
  /** ids of the keys minted by `id`, by those keys, and so on */
  descendants(id: string): Promise<string[]>;
}

interface DbRow {
  id: string;
  prefix: string;
  hash: string;
  owner_user_id: string;
  account_id: string;
  scopes: string[] | string;
  name: string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  rotated_from: string | null;
  parent_key_id: string | null;
  grace_until: Date | string | null;
  limits: PrincipalLimits | string | null;
  last_used_at: Date | string | null;
  created_at: Date | string;
}

const PUBLIC_COLUMNS = `id, prefix, owner_user_id, account_id, scopes, name, expires_at, revoked_at,
  rotated_from, parent_key_id, grace_until, limits, last_used_at, created_at`;

/** text[] arrives as a JS array from both adapters; tolerate the literal form too */
function parseTextArray(v: string[] | string): string[] {
  if (Array.isArray(v)) return v;
  const inner = v.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
}

function toRecord(r: DbRow): ApiKeyRecord {
  return {
    id: r.id,
    prefix: r.prefix,
    ownerUserId: r.owner_user_id,
    accountId: r.account_id,
    scopes: parseTextArray(r.scopes) as Scope[],
    name: r.name,
    expiresAt: toDate(r.expires_at),
    revokedAt: toDate(r.revoked_at),
    rotatedFrom: r.rotated_from,
    parentKeyId: r.parent_key_id ?? null,
    graceUntil: toDate(r.grace_until),
    limits: parseJson(r.limits),
    lastUsedAt: toDate(r.last_used_at),
    createdAt: toDate(r.created_at) as Date,
  };
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * SQL on the shared Database port (PGlite and PostgreSQL). Arrays and JSON go
 * in as JSON text and are unpacked in SQL, which both adapters pass unchanged.
 */
export class SqlApiKeyRepository implements ApiKeyRepository {
  async descendants(id: string): Promise<string[]> {
    const r = await this.db.query<{ id: string }>(
      `WITH RECURSIVE d(id) AS (
         SELECT id FROM api_keys WHERE parent_key_id = $1
         UNION
         SELECT k.id FROM api_keys k JOIN d ON k.parent_key_id = d.id
       )
       SELECT id FROM d ORDER BY id`,
      [id],
    );
    return r.rows.map((x) => x.id);
  }

  constructor(private readonly db: Database) {}

  async insert(row: ApiKeyRow): Promise<void> {
    await insertRow(this.db, row);
  }

  async findByPrefix(prefix: string): Promise<ApiKeyRow | undefined> {
    const r = await this.db.query<DbRow>(
      `SELECT hash, ${PUBLIC_COLUMNS} FROM api_keys WHERE prefix = $1`,
      [prefix],
    );
    const row = r.rows[0];
    return row ? { ...toRecord(row), hash: row.hash } : undefined;
  }

  async findById(id: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.db.query<DbRow>(`SELECT ${PUBLIC_COLUMNS} FROM api_keys WHERE id = $1`, [
      id,
    ]);
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async list(filter: ApiKeyFilter): Promise<ApiKeyRecord[]> {
    const r = await this.db.query<DbRow>(
      `SELECT ${PUBLIC_COLUMNS} FROM api_keys
       WHERE ($1::text IS NULL OR owner_user_id = $1) AND ($2::text IS NULL OR account_id = $2)
       ORDER BY created_at DESC, id`,
      [filter.ownerUserId ?? null, filter.accountId ?? null],
    );
    return r.rows.map(toRecord);
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined> {
    const r = await this.db.query<DbRow>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2::timestamptz)
       WHERE id = $1 RETURNING ${PUBLIC_COLUMNS}`,
      [id, at.toISOString()],
    );
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async rotate(
    oldId: string,
    graceUntil: Date,
    build: (old: ApiKeyRecord) => ApiKeyRow,
  ): Promise<{ previous: ApiKeyRecord; next: ApiKeyRecord } | undefined> {
    return this.db.transaction(async (tx) => {
      const cur = await tx.query<DbRow>(
        `SELECT ${PUBLIC_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE`,
        [oldId],
      );
      if (!cur.rows[0]) return undefined;
      const next = build(toRecord(cur.rows[0]));
      await insertRow(tx, next);
      // keys minted from the old key now stand under its replacement, so the
      // replacement's limits and budgets bound them as the old key's did
      await tx.query('UPDATE api_keys SET parent_key_id = $2 WHERE parent_key_id = $1', [
        oldId,
        next.id,
      ]);
      const prev = await tx.query<DbRow>(
        `UPDATE api_keys SET grace_until = LEAST(COALESCE(grace_until, $2::timestamptz), $2::timestamptz)
         WHERE id = $1 RETURNING ${PUBLIC_COLUMNS}`,
        [oldId, graceUntil.toISOString()],
      );
      const { hash: _hash, ...record } = next;
      return { previous: toRecord(prev.rows[0]), next: record };
    });
  }

  async setLimits(id: string, limits: PrincipalLimits | null): Promise<ApiKeyRecord | undefined> {
    const r = await this.db.query<DbRow>(
      `UPDATE api_keys SET limits = $2::jsonb WHERE id = $1 RETURNING ${PUBLIC_COLUMNS}`,
      [id, limits === null ? null : JSON.stringify(limits)],
    );
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async touchMany(entries: ReadonlyArray<{ id: string; at: Date }>): Promise<void> {
    if (entries.length === 0) return;
    await this.db.query(
      `UPDATE api_keys k SET last_used_at = GREATEST(k.last_used_at, v.at)
       FROM jsonb_to_recordset($1::jsonb) AS v(id text, at timestamptz)
       WHERE k.id = v.id`,
      [JSON.stringify(entries.map((e) => ({ id: e.id, at: e.at.toISOString() })))],
    );
  }
}

async function insertRow(q: Queryable, row: ApiKeyRow): Promise<void> {
  await q.query(
    `INSERT INTO api_keys (id, prefix, hash, owner_user_id, account_id, scopes, name, expires_at,
       revoked_at, rotated_from, grace_until, limits, last_used_at, created_at, parent_key_id)
     VALUES ($1, $2, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)), $7,
       $8::timestamptz, $9::timestamptz, $10, $11::timestamptz, $12::jsonb, $13::timestamptz,
       $14::timestamptz, $15)`,
    [
      row.id,
      row.prefix,
      row.hash,
      row.ownerUserId,
      row.accountId,
      JSON.stringify(row.scopes),
      row.name,
      iso(row.expiresAt),
      iso(row.revokedAt),
      row.rotatedFrom,
      iso(row.graceUntil),
      row.limits === null ? null : JSON.stringify(row.limits),
      iso(row.lastUsedAt),
      row.createdAt.toISOString(),
      row.parentKeyId,
    ],
  );
}
