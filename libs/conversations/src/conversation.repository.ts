import type { Database } from '@switchboard/storage';
import type {
  ConversationRecord,
  MessageRecord,
  MessageRole,
  MessageStatus,
  TurnOutcome,
} from './conversation.types';

/** Keyset position in "most recently updated first" order. */
export interface ConversationPosition {
  updatedAt: Date;
  id: string;
}

/**
 * Every read and write names the owner: a row of another user is never found,
 * so it cannot be read, changed or appended to.
 */
export interface ConversationRepository {
  insert(c: ConversationRecord): Promise<void>;
  find(ownerUserId: string, id: string): Promise<ConversationRecord | undefined>;
  list(
    ownerUserId: string,
    opts: { limit: number; after?: ConversationPosition; search?: string },
  ): Promise<ConversationRecord[]>;
  rename(
    ownerUserId: string,
    id: string,
    title: string,
    at: Date,
  ): Promise<ConversationRecord | undefined>;
  delete(ownerUserId: string, id: string): Promise<boolean>;
  /** marks the conversation active at `at` (it moves to the top of the list) */
  touch(ownerUserId: string, id: string, at: Date, titleIfUntitled?: string): Promise<boolean>;
  insertMessage(m: {
    id: string;
    conversationId: string;
    ownerUserId: string;
    role: MessageRole;
    content: string;
    status: MessageStatus;
    requestId: string | null;
    model: string | null;
  }): Promise<void>;
  /** writes the outcome of a message still `streaming`; false when it was already settled */
  settleMessage(ownerUserId: string, id: string, outcome: TurnOutcome): Promise<boolean>;
  messages(ownerUserId: string, conversationId: string, limit: number): Promise<MessageRecord[]>;
}

interface ConversationRow {
  id: string;
  owner_user_id: string;
  title: string;
  created_at: Date | string;
  updated_at: Date | string;
}

interface MessageRow {
  id: string;
  conversation_id: string;
  owner_user_id: string;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  request_id: string | null;
  model: string | null;
  sources: unknown;
  generated_files: unknown;
  usage: unknown;
  error: unknown;
  created_at: Date | string;
  updated_at: Date | string;
}

const C_COLUMNS = 'id, owner_user_id, title, created_at, updated_at';
const M_COLUMNS =
  'id, conversation_id, owner_user_id, role, content, status, request_id, model, sources, generated_files, usage, error, created_at, updated_at';

const toConversation = (r: ConversationRow): ConversationRecord => ({
  id: r.id,
  ownerUserId: r.owner_user_id,
  title: r.title,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

// jsonb arrives parsed from both drivers; a string is tolerated for safety
const json = <T>(v: unknown, fallback: T): T =>
  v === null || v === undefined
    ? fallback
    : typeof v === 'string'
      ? (JSON.parse(v) as T)
      : (v as T);

const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  conversationId: r.conversation_id,
  ownerUserId: r.owner_user_id,
  role: r.role,
  content: r.content,
  status: r.status,
  requestId: r.request_id,
  model: r.model,
  sources: json(r.sources, []),
  generatedFiles: json(r.generated_files, []),
  usage: json(r.usage, null),
  error: json(r.error, null),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

/** LIKE pattern matching `s` literally anywhere. */
const containsPattern = (s: string) => `%${s.replace(/[\\%_]/g, '\\$&')}%`;

export class SqlConversationRepository implements ConversationRepository {
  constructor(private readonly db: Database) {}

  async insert(c: ConversationRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO conversations (${C_COLUMNS}) VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)`,
      [c.id, c.ownerUserId, c.title, c.createdAt.toISOString(), c.updatedAt.toISOString()],
    );
  }

  async find(ownerUserId: string, id: string): Promise<ConversationRecord | undefined> {
    const r = await this.db.query<ConversationRow>(
      `SELECT ${C_COLUMNS} FROM conversations WHERE id = $1 AND owner_user_id = $2`,
      [id, ownerUserId],
    );
    return r.rows[0] ? toConversation(r.rows[0]) : undefined;
  }

  async list(
    ownerUserId: string,
    opts: { limit: number; after?: ConversationPosition; search?: string },
  ): Promise<ConversationRecord[]> {
    const params: unknown[] = [ownerUserId];
    let where = 'owner_user_id = $1';
    if (opts.after) {
      params.push(opts.after.updatedAt.toISOString(), opts.after.id);
      where += ` AND (updated_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`;
    }
    if (opts.search) {
      params.push(containsPattern(opts.search));
      where += ` AND title ILIKE $${params.length}`;
    }
    params.push(opts.limit);
    const r = await this.db.query<ConversationRow>(
      `SELECT ${C_COLUMNS} FROM conversations WHERE ${where}
       ORDER BY updated_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(toConversation);
  }

  async rename(
    ownerUserId: string,
    id: string,
    title: string,
    at: Date,
  ): Promise<ConversationRecord | undefined> {
    const r = await this.db.query<ConversationRow>(
      `UPDATE conversations SET title = $3, updated_at = $4::timestamptz
        WHERE id = $1 AND owner_user_id = $2 RETURNING ${C_COLUMNS}`,
      [id, ownerUserId, title, at.toISOString()],
    );
    return r.rows[0] ? toConversation(r.rows[0]) : undefined;
  }

  async delete(ownerUserId: string, id: string): Promise<boolean> {
    const r = await this.db.query(
      'DELETE FROM conversations WHERE id = $1 AND owner_user_id = $2',
      [id, ownerUserId],
    );
    return r.rowCount === 1;
  }

  async touch(
    ownerUserId: string,
    id: string,
    at: Date,
    titleIfUntitled?: string,
  ): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE conversations
          SET updated_at = $3::timestamptz,
              title = CASE WHEN title = '' AND $4::text IS NOT NULL THEN $4::text ELSE title END
        WHERE id = $1 AND owner_user_id = $2`,
      [id, ownerUserId, at.toISOString(), titleIfUntitled ?? null],
    );
    return r.rowCount === 1;
  }

  async insertMessage(m: {
    id: string;
    conversationId: string;
    ownerUserId: string;
    role: MessageRole;
    content: string;
    status: MessageStatus;
    requestId: string | null;
    model: string | null;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO conversation_messages
         (id, conversation_id, owner_user_id, role, content, status, request_id, model)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [m.id, m.conversationId, m.ownerUserId, m.role, m.content, m.status, m.requestId, m.model],
    );
  }

  async settleMessage(ownerUserId: string, id: string, o: TurnOutcome): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE conversation_messages
          SET status = $3, content = $4, model = COALESCE($5, model), sources = $6::jsonb,
              generated_files = $7::jsonb, usage = $8::jsonb, error = $9::jsonb, updated_at = now()
        WHERE id = $1 AND owner_user_id = $2 AND status = 'streaming'`,
      [
        id,
        ownerUserId,
        o.status,
        o.content,
        o.model,
        JSON.stringify(o.sources),
        JSON.stringify(o.generatedFiles),
        o.usage ? JSON.stringify(o.usage) : null,
        o.error ? JSON.stringify(o.error) : null,
      ],
    );
    return r.rowCount === 1;
  }

  async messages(
    ownerUserId: string,
    conversationId: string,
    limit: number,
  ): Promise<MessageRecord[]> {
    const r = await this.db.query<MessageRow>(
      `SELECT ${M_COLUMNS} FROM conversation_messages
        WHERE conversation_id = $1 AND owner_user_id = $2 ORDER BY seq LIMIT $3`,
      [conversationId, ownerUserId, limit],
    );
    return r.rows.map(toMessage);
  }
}
