import type { Database } from '@switchboard/storage';
import type {
  ItemPage,
  ItemPageQuery,
  ResponseItem,
  StoredResponse,
} from './stored-response.types';

/** A chain of previous_response_id links longer than this is cut (oldest turns dropped). */
const MAX_CHAIN = 1000;

/**
 * SQL access to `stored_responses` and `stored_response_items`. Every read is
 * scoped to the owner and to rows created at or after `notBefore` (the retention
 * horizon), so an expired row is gone for readers before the purge removes it.
 */
export class StoredResponseRepository {
  constructor(private readonly db: Database) {}

  async insert(r: StoredResponse): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO stored_responses (id, owner_user_id, previous_response_id, created_at, body)
         VALUES ($1, $2, $3, $4::timestamptz, $5::jsonb)`,
        [
          r.id,
          r.ownerUserId,
          r.previousResponseId,
          r.createdAt.toISOString(),
          JSON.stringify(r.body),
        ],
      );
      const rows = [
        ...r.inputItems.map((item, i) => ['input', i, item] as const),
        ...r.outputItems.map((item, i) => ['output', i, item] as const),
      ];
      if (!rows.length) return;
      // one statement for every item: arrays unnested in parallel
      await tx.query(
        `INSERT INTO stored_response_items (response_id, owner_user_id, kind, position, item_id, item)
         SELECT $1, $2, k, p, i, it::jsonb
           FROM unnest($3::text[], $4::int[], $5::text[], $6::text[]) AS t(k, p, i, it)`,
        [
          r.id,
          r.ownerUserId,
          rows.map((x) => x[0]),
          rows.map((x) => x[1]),
          rows.map((x) => x[2].id),
          rows.map((x) => JSON.stringify(x[2])),
        ],
      );
    });
  }

  async findBody(
    id: string,
    ownerUserId: string,
    notBefore: Date,
  ): Promise<Record<string, unknown> | undefined> {
    const r = await this.db.query<{ body: Record<string, unknown> | string }>(
      `SELECT body FROM stored_responses
        WHERE id = $1 AND owner_user_id = $2 AND created_at >= $3::timestamptz`,
      [id, ownerUserId, notBefore.toISOString()],
    );
    const body = r.rows[0]?.body;
    return typeof body === 'string' ? (JSON.parse(body) as Record<string, unknown>) : body;
  }

  async delete(id: string, ownerUserId: string, notBefore: Date): Promise<boolean> {
    const r = await this.db.query(
      `DELETE FROM stored_responses
        WHERE id = $1 AND owner_user_id = $2 AND created_at >= $3::timestamptz`,
      [id, ownerUserId, notBefore.toISOString()],
    );
    return r.rowCount === 1;
  }

  /**
   * The conversation up to and including the response `id`: every response of
   * its previous_response_id chain, oldest first, each as its input then its
   * output items. Undefined when `id` is not the owner's (or expired).
   */
  async conversation(
    id: string,
    ownerUserId: string,
    notBefore: Date,
  ): Promise<ResponseItem[] | undefined> {
    const r = await this.db.query<{ item: ResponseItem | string | null }>(
      `WITH RECURSIVE chain (id, prev, depth) AS (
         SELECT id, previous_response_id, 0 FROM stored_responses
          WHERE id = $1 AND owner_user_id = $2 AND created_at >= $3::timestamptz
         UNION ALL
         SELECT s.id, s.previous_response_id, c.depth + 1
           FROM stored_responses s JOIN chain c ON s.id = c.prev
          WHERE s.owner_user_id = $2 AND s.created_at >= $3::timestamptz AND c.depth < $4
       )
       SELECT i.item FROM chain c
         LEFT JOIN stored_response_items i ON i.response_id = c.id
        ORDER BY c.depth DESC, i.kind ASC, i.position ASC`,
      [id, ownerUserId, notBefore.toISOString(), MAX_CHAIN],
    );
    if (!r.rows.length) return undefined;
    return r.rows
      .filter((x) => x.item !== null)
      .map((x) => (typeof x.item === 'string' ? (JSON.parse(x.item) as ResponseItem) : x.item!));
  }

  /** Items of the owner's live responses by item id (the first stored wins on a repeated id). */
  async findItems(
    ownerUserId: string,
    itemIds: string[],
    notBefore: Date,
  ): Promise<Map<string, ResponseItem>> {
    if (!itemIds.length) return new Map();
    const r = await this.db.query<{ item_id: string; item: ResponseItem | string }>(
      `SELECT DISTINCT ON (i.item_id) i.item_id, i.item
         FROM stored_response_items i JOIN stored_responses s ON s.id = i.response_id
        WHERE i.owner_user_id = $1 AND i.item_id = ANY($2::text[])
          AND s.created_at >= $3::timestamptz
        ORDER BY i.item_id, s.created_at ASC, i.kind DESC`,
      [ownerUserId, itemIds, notBefore.toISOString()],
    );
    return new Map(
      r.rows.map((x) => [
        x.item_id,
        typeof x.item === 'string' ? (JSON.parse(x.item) as ResponseItem) : x.item,
      ]),
    );
  }

  /** A page of the response's input items; undefined when the response is not the owner's. */
  async inputItems(
    id: string,
    ownerUserId: string,
    notBefore: Date,
    q: ItemPageQuery,
  ): Promise<ItemPage | undefined> {
    const owned = await this.db.query(
      `SELECT 1 FROM stored_responses
        WHERE id = $1 AND owner_user_id = $2 AND created_at >= $3::timestamptz`,
      [id, ownerUserId, notBefore.toISOString()],
    );
    if (!owned.rows.length) return undefined;
    const cmp = q.order === 'asc' ? '>' : '<';
    const after = q.after
      ? `AND position ${cmp} (SELECT position FROM stored_response_items
                              WHERE response_id = $1 AND kind = 'input' AND item_id = $3 LIMIT 1)`
      : '';
    const r = await this.db.query<{ item: ResponseItem | string }>(
      `SELECT item FROM stored_response_items
        WHERE response_id = $1 AND kind = 'input' ${after}
        ORDER BY position ${q.order === 'asc' ? 'ASC' : 'DESC'}
        LIMIT $2`,
      q.after ? [id, q.limit + 1, q.after] : [id, q.limit + 1],
    );
    const items = r.rows.map((x) =>
      typeof x.item === 'string' ? (JSON.parse(x.item) as ResponseItem) : x.item,
    );
    return { data: items.slice(0, q.limit), hasMore: items.length > q.limit };
  }

  /** Deletes responses created before `before` (their items go with them); returns how many. */
  async purge(before: Date): Promise<number> {
    const r = await this.db.query(
      'DELETE FROM stored_responses WHERE created_at < $1::timestamptz',
      [before.toISOString()],
    );
    return r.rowCount;
  }
}
