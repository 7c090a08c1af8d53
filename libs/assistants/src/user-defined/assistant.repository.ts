import type { Database } from '@switchboard/storage';
import type { AssistantInput, AssistantRecord, AssistantToolName } from './assistant.types';

export interface AssistantRepository {
  insert(a: AssistantRecord): Promise<void>;
  findById(id: string): Promise<AssistantRecord | undefined>;
  /** owned by the user or shared with any of the accounts, newest first */
  listVisible(userId: string, accountIds: string[]): Promise<AssistantRecord[]>;
  update(id: string, input: AssistantInput): Promise<AssistantRecord | undefined>;
  delete(id: string): Promise<boolean>;
}

interface Row {
  id: string;
  owner_user_id: string;
  name: string;
  instructions: string;
  model: string | null;
  file_ids: string[];
  tags: string[];
  tools: string[];
  shared_account_ids: string[];
  created_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS =
  'id, owner_user_id, name, instructions, model, file_ids, tags, tools, shared_account_ids, created_at, updated_at';

function toRecord(r: Row): AssistantRecord {
  return {
    id: r.id,
    ownerUserId: r.owner_user_id,
    name: r.name,
    instructions: r.instructions,
    model: r.model,
    fileIds: r.file_ids,
    tags: r.tags,
    tools: r.tools as AssistantToolName[],
    sharedAccountIds: r.shared_account_ids,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export class SqlAssistantRepository implements AssistantRepository {
  constructor(private readonly db: Database) {}

  async insert(a: AssistantRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO assistants (${COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz, $11::timestamptz)`,
      [
        a.id,
        a.ownerUserId,
        a.name,
        a.instructions,
        a.model,
        a.fileIds,
        a.tags,
        a.tools,
        a.sharedAccountIds,
        a.createdAt.toISOString(),
        a.updatedAt.toISOString(),
      ],
    );
  }

  async findById(id: string): Promise<AssistantRecord | undefined> {
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM assistants WHERE id = $1`, [id]);
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async listVisible(userId: string, accountIds: string[]): Promise<AssistantRecord[]> {
    const r = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM assistants
       WHERE owner_user_id = $1 OR shared_account_ids && $2::text[]
       ORDER BY created_at DESC, id LIMIT 1000`,
      [userId, accountIds],
    );
    return r.rows.map(toRecord);
  }

  async update(id: string, a: AssistantInput): Promise<AssistantRecord | undefined> {
    const r = await this.db.query<Row>(
      `UPDATE assistants SET name = $2, instructions = $3, model = $4, file_ids = $5::text[],
         tags = $6::text[], tools = $7::text[], shared_account_ids = $8::text[], updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, a.name, a.instructions, a.model, a.fileIds, a.tags, a.tools, a.sharedAccountIds],
    );
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM assistants WHERE id = $1', [id]);
    return r.rowCount === 1;
  }
}

/** In-memory repository for unit tests. */
export class InMemoryAssistantRepository implements AssistantRepository {
  readonly rows = new Map<string, AssistantRecord>();

  insert(a: AssistantRecord): Promise<void> {
    this.rows.set(a.id, { ...a });
    return Promise.resolve();
  }

  findById(id: string): Promise<AssistantRecord | undefined> {
    return Promise.resolve(this.rows.get(id));
  }

  listVisible(userId: string, accountIds: string[]): Promise<AssistantRecord[]> {
    return Promise.resolve(
      [...this.rows.values()].filter(
        (a) => a.ownerUserId === userId || a.sharedAccountIds.some((id) => accountIds.includes(id)),
      ),
    );
  }

  update(id: string, input: AssistantInput): Promise<AssistantRecord | undefined> {
    const a = this.rows.get(id);
    if (!a) return Promise.resolve(undefined);
    const next = { ...a, ...input, updatedAt: new Date() };
    this.rows.set(id, next);
    return Promise.resolve(next);
  }

  delete(id: string): Promise<boolean> {
    return Promise.resolve(this.rows.delete(id));
  }
}
