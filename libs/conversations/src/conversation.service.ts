import { AppError } from '@switchboard/common';
import { randomUUID } from 'node:crypto';
import type { ConversationPosition, ConversationRepository } from './conversation.repository';
import type {
  ConversationRecord,
  ListConversationsQuery,
  MessageRecord,
} from './conversation.types';
import { ConversationTurn } from './conversation-turn';

/** Anything with a user id: the caller (`Principal` fits). */
export interface ConversationOwner {
  userId: string;
}

export const MAX_TITLE_LENGTH = 200;
/** messages returned for one conversation; older ones stay stored */
export const MAX_MESSAGES_READ = 1000;

const notFound = () => new AppError('not_found', 'Conversation not found.');

/** "2026-12-03T08:00:00.000Z|conv_..." as base64url; opaque to clients. */
function encodeCursor(p: ConversationPosition): string {
  return Buffer.from(`${p.updatedAt.toISOString()}|${p.id}`).toString('base64url');
}

function decodeCursor(s: string): ConversationPosition {
  const raw = Buffer.from(s, 'base64url').toString('utf8');
  const bar = raw.indexOf('|');
  const at = new Date(raw.slice(0, bar));
  if (bar < 0 || Number.isNaN(at.getTime()) || raw.length - bar - 1 < 1)
    throw new AppError('invalid_request', 'cursor: not a cursor of this list', { param: 'cursor' });
  return { updatedAt: at, id: raw.slice(bar + 1) };
}

/** A title from the first user message: its first line, whitespace collapsed, cut at 80 characters. */
export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0].replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/**
 * Conversations stored per user. Each is private to its owner: another user's
 * id answers 404 exactly like an unknown one, so ids cannot be probed.
 */
export class ConversationService {
  /**
   * `clock` stamps activity; timestamps are kept to the millisecond so the
   * list cursor (an ISO timestamp) matches the stored value exactly.
   */
  constructor(
    private readonly repo: ConversationRepository,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(owner: ConversationOwner, title = ''): Promise<ConversationRecord> {
    const now = this.clock();
    const c: ConversationRecord = {
      id: `conv_${randomUUID().replace(/-/g, '')}`,
      ownerUserId: owner.userId,
      title: title.trim().slice(0, MAX_TITLE_LENGTH),
      createdAt: now,
      updatedAt: now,
    };
    await this.repo.insert(c);
    return c;
  }

  /** Newest activity first; `nextCursor` is null on the last page. */
  async list(
    owner: ConversationOwner,
    q: ListConversationsQuery,
  ): Promise<{ data: ConversationRecord[]; nextCursor: string | null }> {
    const after = q.cursor ? decodeCursor(q.cursor) : undefined;
    const search = q.search?.trim() || undefined;
    const rows = await this.repo.list(owner.userId, { limit: q.limit + 1, after, search });
    const data = rows.slice(0, q.limit);
    const last = data[data.length - 1];
    return { data, nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null };
  }

  /** @throws AppError not_found */
  async get(owner: ConversationOwner, id: string): Promise<ConversationRecord> {
    const c = await this.repo.find(owner.userId, id);
    if (!c) throw notFound();
    return c;
  }

  /** @throws AppError not_found */
  async rename(owner: ConversationOwner, id: string, title: string): Promise<ConversationRecord> {
    const c = await this.repo.rename(
      owner.userId,
      id,
      title.trim().slice(0, MAX_TITLE_LENGTH),
      this.clock(),
    );
    if (!c) throw notFound();
    return c;
  }

  /** Deletes the conversation and its messages. @throws AppError not_found */
  async delete(owner: ConversationOwner, id: string): Promise<void> {
    if (!(await this.repo.delete(owner.userId, id))) throw notFound();
  }

  /** @throws AppError not_found */
  async messages(owner: ConversationOwner, id: string): Promise<MessageRecord[]> {
    await this.get(owner, id);
    return this.repo.messages(owner.userId, id, MAX_MESSAGES_READ);
  }

  /**
   * Starts a turn of a chat request that names the conversation: stores the
   * user's message and an assistant message marked `streaming`, which the
   * returned turn settles when the stream ends (however it ends).
   * @throws AppError not_found before anything is stored
   */
  async beginTurn(
    owner: ConversationOwner,
    conversationId: string,
    turn: { userText: string; requestId: string; model: string },
  ): Promise<ConversationTurn> {
    const title = titleFrom(turn.userText) || undefined;
    if (!(await this.repo.touch(owner.userId, conversationId, this.clock(), title)))
      throw notFound();
    await this.repo.insertMessage({
      id: `msg_${randomUUID().replace(/-/g, '')}`,
      conversationId,
      ownerUserId: owner.userId,
      role: 'user',
      content: turn.userText,
      status: 'complete',
      requestId: turn.requestId,
      model: null,
    });
    const assistantId = `msg_${randomUUID().replace(/-/g, '')}`;
    await this.repo.insertMessage({
      id: assistantId,
      conversationId,
      ownerUserId: owner.userId,
      role: 'assistant',
      content: '',
      status: 'streaming',
      requestId: turn.requestId,
      model: turn.model,
    });
    return new ConversationTurn(this.repo, owner.userId, conversationId, assistantId);
  }
}
