import type { Database } from '@switchboard/storage';
import type { PrincipalLimits } from '../principal';
import { parseJson, toDate } from '@switchboard/storage';
import type { AccountRecord } from './identity.types';

export interface AccountRepository {
  /** false when the id is taken */
  insert(account: AccountRecord): Promise<boolean>;
  findById(id: string): Promise<AccountRecord | undefined>;
  list(): Promise<AccountRecord[]>;
  setLimits(id: string, limits: PrincipalLimits | null): Promise<AccountRecord | undefined>;
  /** idempotent; false when the account does not exist */
  addMember(accountId: string, userId: string): Promise<boolean>;
  /** false when the user was not a member */
  removeMember(accountId: string, userId: string): Promise<boolean>;
  members(accountId: string): Promise<string[]>;
  accountsOf(userId: string): Promise<AccountRecord[]>;
}

interface DbRow {
  id: string;
  name: string;
  limits: PrincipalLimits | string | null;
  created_at: Date | string;
}

const COLUMNS = 'a.id, a.name, a.limits, a.created_at';

function toRecord(r: DbRow): AccountRecord {
  return {
    id: r.id,
    name: r.name,
    limits: parseJson(r.limits),
    createdAt: toDate(r.created_at) as Date,
  };
}

export class SqlAccountRepository implements AccountRepository {
  constructor(private readonly db: Database) {}

  async insert(a: AccountRecord): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO accounts (id, name, limits, created_at) VALUES ($1, $2, $3::jsonb, $4::timestamptz)
       ON CONFLICT (id) DO NOTHING`,
      [
        a.id,
        a.name,
        a.limits === null ? null : JSON.stringify(a.limits),
        a.createdAt.toISOString(),
      ],
    );
    return r.rowCount === 1;
  }

  async findById(id: string): Promise<AccountRecord | undefined> {
    const r = await this.db.query<DbRow>(`SELECT ${COLUMNS} FROM accounts a WHERE a.id = $1`, [id]);
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async list(): Promise<AccountRecord[]> {
    const r = await this.db.query<DbRow>(
      `SELECT ${COLUMNS} FROM accounts a ORDER BY a.created_at, a.id`,
      [],
    );
    return r.rows.map(toRecord);
  }

  async setLimits(id: string, limits: PrincipalLimits | null): Promise<AccountRecord | undefined> {
    const r = await this.db.query<DbRow>(
      `UPDATE accounts a SET limits = $2::jsonb WHERE a.id = $1 RETURNING ${COLUMNS}`,
      [id, limits === null ? null : JSON.stringify(limits)],
    );
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async addMember(accountId: string, userId: string): Promise<boolean> {
    const r = await this.db.query<{ ok: boolean }>(
      `WITH acc AS (SELECT id FROM accounts WHERE id = $1),
            ins AS (INSERT INTO account_members (account_id, user_id)
                    SELECT id, $2 FROM acc ON CONFLICT DO NOTHING RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM acc) AS ok`,
      [accountId, userId],
    );
    return r.rows[0]?.ok === true;
  }

  async removeMember(accountId: string, userId: string): Promise<boolean> {
    const r = await this.db.query(
      `DELETE FROM account_members WHERE account_id = $1 AND user_id = $2`,
      [accountId, userId],
    );
    return r.rowCount > 0;
  }

  async members(accountId: string): Promise<string[]> {
    const r = await this.db.query<{ user_id: string }>(
      `SELECT user_id FROM account_members WHERE account_id = $1 ORDER BY user_id`,
      [accountId],
    );
    return r.rows.map((x) => x.user_id);
  }

  async accountsOf(userId: string): Promise<AccountRecord[]> {
    const r = await this.db.query<DbRow>(
      `SELECT ${COLUMNS} FROM accounts a JOIN account_members m ON m.account_id = a.id
       WHERE m.user_id = $1 ORDER BY m.created_at, a.id`,
      [userId],
    );
    return r.rows.map(toRecord);
  }
}
