import { Migrator, type Database } from '@switchboard/storage';
import {
  createTestPglite,
  createTestPostgres,
  type TestPostgres,
} from '@switchboard/storage/testing';
import { responseMigrations } from './responses.migrations';
import { StoredResponseRepository } from './stored-response.repository';
import { StoredResponses } from './stored-responses.service';
import type { ResponseItem, StoredResponse } from './stored-response.types';

const DAY = 24 * 60 * 60 * 1000;

function msg(id: string, text: string, role = 'user'): ResponseItem {
  return { id, type: 'message', role, content: [{ type: 'input_text', text }] };
}

function response(
  id: string,
  owner: string,
  createdAt: Date,
  opts: { prev?: string; input?: ResponseItem[]; output?: ResponseItem[] } = {},
): StoredResponse {
  return {
    id,
    ownerUserId: owner,
    previousResponseId: opts.prev ?? null,
    createdAt,
    body: { id, object: 'response', status: 'completed' },
    inputItems: opts.input ?? [msg(`in_${id}`, `question ${id}`)],
    outputItems: opts.output ?? [msg(`out_${id}`, `answer ${id}`, 'assistant')],
  };
}

describe.each([
  ['PGlite', 'pglite'],
  ['PostgreSQL', 'postgres'],
] as const)('stored responses on %s', (_name, kind) => {
  let db: Database;
  let pg: TestPostgres | undefined;
  let now: Date;
  let store: StoredResponses;

  beforeAll(async () => {
    if (kind === 'postgres') {
      pg = await createTestPostgres();
      db = pg.db;
    } else db = await createTestPglite();
    await new Migrator(db).migrate(responseMigrations);
  });
  afterAll(async () => {
    if (pg) await pg.drop();
    else await db.close();
  });
  beforeEach(async () => {
    await db.query('DELETE FROM stored_responses');
    now = new Date('2026-06-01T00:00:00Z');
    store = new StoredResponses(new StoredResponseRepository(db), {
      retentionMs: 30 * DAY,
      purgeIntervalMs: 60_000,
      now: () => now,
    });
  });

  it('keeps a response for its owner only', async () => {
    await store.save(response('resp_a', 'alice', now));
    expect(await store.get('resp_a', 'alice')).toMatchObject({ id: 'resp_a' });
    expect(await store.get('resp_a', 'mallory')).toBeUndefined();
    expect(await store.delete('resp_a', 'mallory')).toBe(false);
    expect(
      await store.inputItems('resp_a', 'mallory', { limit: 20, order: 'asc' }),
    ).toBeUndefined();
    expect(await store.conversation('resp_a', 'mallory')).toBeUndefined();
    expect((await store.findItems('mallory', ['out_resp_a'])).size).toBe(0);
    expect(await store.delete('resp_a', 'alice')).toBe(true);
    expect(await store.get('resp_a', 'alice')).toBeUndefined();
    // its items went with it
    expect((await store.findItems('alice', ['out_resp_a'])).size).toBe(0);
  });

  it('a read waits for a write of the same id still in flight', async () => {
    const saving = store.save(response('resp_w', 'alice', now));
    // not awaited: the read must still see it
    expect(await store.get('resp_w', 'alice')).toMatchObject({ id: 'resp_w' });
    await saving;
  });

  it('the conversation walks the previous_response_id chain, oldest first', async () => {
    await store.save(response('r1', 'alice', now));
    await store.save(response('r2', 'alice', now, { prev: 'r1' }));
    await store.save(response('r3', 'alice', now, { prev: 'r2' }));
    const items = await store.conversation('r3', 'alice');
    expect(items!.map((i) => i.id)).toEqual([
      'in_r1',
      'out_r1',
      'in_r2',
      'out_r2',
      'in_r3',
      'out_r3',
    ]);
    // a chain never crosses into another user's responses
    await store.save(response('m1', 'mallory', now, { prev: 'r3' }));
    expect((await store.conversation('m1', 'mallory'))!.map((i) => i.id)).toEqual([
      'in_m1',
      'out_m1',
    ]);
  });

  it('pages input items in both orders', async () => {
    const input = ['a', 'b', 'c', 'd', 'e'].map((x) => msg(x, x));
    await store.save(response('rp', 'alice', now, { input }));
    const p1 = await store.inputItems('rp', 'alice', { limit: 2, order: 'desc' });
    expect(p1).toEqual({ data: [input[4], input[3]], hasMore: true });
    const p2 = await store.inputItems('rp', 'alice', { limit: 2, order: 'desc', after: 'd' });
    expect(p2!.data.map((i) => i.id)).toEqual(['c', 'b']);
    const p3 = await store.inputItems('rp', 'alice', { limit: 10, order: 'asc', after: 'b' });
    expect(p3).toEqual({ data: input.slice(2), hasMore: false });
  });

  it('purges on schedule only after something was stored, so an idle replica leaves the database alone', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const purge = jest.spyOn(store, 'purgeExpired');
    try {
      store.startPurging();
      await jest.advanceTimersByTimeAsync(60_000);
      expect(purge).toHaveBeenCalledTimes(1); // the first tick after boot
      await jest.advanceTimersByTimeAsync(3 * 60_000);
      expect(purge).toHaveBeenCalledTimes(1); // idle: no query at all
      await store.save(response('r1', 'alice', now));
      await jest.advanceTimersByTimeAsync(60_000);
      expect(purge).toHaveBeenCalledTimes(2);
      await jest.advanceTimersByTimeAsync(60_000);
      expect(purge).toHaveBeenCalledTimes(2);
    } finally {
      await store.close();
      purge.mockRestore();
      jest.useRealTimers();
    }
  });

  it('expired responses are gone for readers at once and purged from the table', async () => {
    await store.save(response('old', 'alice', new Date(now.getTime() - 31 * DAY)));
    await store.save(response('fresh', 'alice', new Date(now.getTime() - 29 * DAY)));
    expect(await store.get('old', 'alice')).toBeUndefined();
    expect(await store.conversation('old', 'alice')).toBeUndefined();
    expect((await store.findItems('alice', ['out_old'])).size).toBe(0);
    expect(await store.get('fresh', 'alice')).toBeDefined();
    expect(await store.purgeExpired()).toBe(1);
    const left = await db.query<{ id: string }>('SELECT id FROM stored_responses');
    expect(left.rows.map((r) => r.id)).toEqual(['fresh']);
    const items = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM stored_response_items WHERE response_id = 'old'",
    );
    expect(items.rows[0].n).toBe(0);
    // two days later the other one expires too
    now = new Date(now.getTime() + 2 * DAY);
    expect(await store.get('fresh', 'alice')).toBeUndefined();
    expect(await store.purgeExpired()).toBe(1);
  });
});
