import { AppError } from '@switchboard/common';
import { Migrator, type Database } from '@switchboard/storage';
import { createTestPglite, createTestPostgres } from '@switchboard/storage/testing';
import { conversationMigrations } from './conversation.migrations';
import { SqlConversationRepository } from './conversation.repository';
import { ConversationService, titleFrom } from './conversation.service';

const alice = { userId: 'alice' };
const bob = { userId: 'bob' };

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof AppError ? e.code : String(e)),
  );

type Backend = { name: string; open: () => Promise<{ db: Database; close: () => Promise<void> }> };

const backends: Backend[] = [
  {
    name: 'PGlite',
    open: async () => {
      const db = await createTestPglite();
      return { db, close: () => db.close() };
    },
  },
  {
    name: 'PostgreSQL',
    open: async () => {
      const pg = await createTestPostgres();
      return { db: pg.db, close: () => pg.drop() };
    },
  },
];

describe.each(backends)('ConversationService ($name)', ({ open }) => {
  let db: Database;
  let close: () => Promise<void>;
  let svc: ConversationService;

  beforeAll(async () => {
    ({ db, close } = await open());
    await new Migrator(db).migrate(conversationMigrations);
    // a clock that moves 1 s per reading: orders are decided by activity, never by ties
    let t = Date.parse('2026-01-01T00:00:00Z');
    svc = new ConversationService(new SqlConversationRepository(db), () => new Date((t += 1000)));
  });
  afterAll(() => close());
  beforeEach(() => db.query('DELETE FROM conversations'));

  it("keeps each user's conversations private: another user's id answers 404 everywhere", async () => {
    const mine = await svc.create(alice, 'Quarterly numbers');
    await svc.beginTurn(alice, mine.id, { userText: 'secret plan', requestId: 'r1', model: 'm' });

    expect((await svc.list(bob, { limit: 10 })).data).toEqual([]);
    expect(await codeOf(svc.get(bob, mine.id))).toBe('not_found');
    expect(await codeOf(svc.messages(bob, mine.id))).toBe('not_found');
    expect(await codeOf(svc.rename(bob, mine.id, 'hijacked'))).toBe('not_found');
    expect(await codeOf(svc.delete(bob, mine.id))).toBe('not_found');
    // appending a turn to someone else's conversation stores nothing
    expect(
      await codeOf(svc.beginTurn(bob, mine.id, { userText: 'x', requestId: 'r2', model: 'm' })),
    ).toBe('not_found');
    expect(await codeOf(svc.get(alice, 'conv_does_not_exist'))).toBe('not_found');

    const msgs = await svc.messages(alice, mine.id);
    expect(msgs.map((m) => [m.role, m.content])).toEqual([
      ['user', 'secret plan'],
      ['assistant', ''],
    ]);
    expect((await svc.get(alice, mine.id)).title).toBe('Quarterly numbers');
  });

  it('stores a completed turn with its sources, generated files and usage', async () => {
    const c = await svc.create(alice);
    const turn = await svc.beginTurn(alice, c.id, {
      userText: '  What is in\nthe sheet?',
      requestId: 'r1',
      model: 'sim-gpt',
    });
    turn.appendText('It lists ');
    turn.appendText('three rows [1].');
    const source = {
      n: 1,
      fileId: 'f1',
      name: 'a.csv',
      location: 'rows 1-3',
      score: 1,
      snippet: 'x',
    };
    turn.setSources([source]);
    const file = { fileId: 'f2', name: 'chart.png', mime: 'image/png', size: 9 };
    turn.addGeneratedFiles([file]);
    turn.addGeneratedFiles([file]);
    const usage = {
      inputTokens: 10,
      cachedInputTokens: 0,
      outputTokens: 5,
      reasoningTokens: 0,
      costMicros: 42,
      estimated: false,
    };
    expect(await turn.end({ status: 'complete', model: 'sim-gpt', usage })).toBe(true);
    // the connection closing afterwards changes nothing
    expect(await turn.close()).toBe(true);

    const [user, answer] = await svc.messages(alice, c.id);
    expect(user).toMatchObject({
      role: 'user',
      content: '  What is in\nthe sheet?',
      status: 'complete',
    });
    expect(answer).toMatchObject({
      role: 'assistant',
      content: 'It lists three rows [1].',
      status: 'complete',
      model: 'sim-gpt',
      sources: [source],
      generatedFiles: [file],
      usage,
      error: null,
    });
    // an untitled conversation takes its title from the first question
    expect((await svc.get(alice, c.id)).title).toBe('What is in');
  });

  it('stores a turn whose connection closed before the end as cancelled, with the partial text', async () => {
    const c = await svc.create(alice, 'long one');
    const turn = await svc.beginTurn(alice, c.id, {
      userText: 'write a lot',
      requestId: 'r',
      model: 'm',
    });
    turn.appendText('Once upon');
    await turn.close();
    // a late end (e.g. after the client left) does not overwrite the stored outcome
    await turn.end({ status: 'complete', model: 'm', usage: null });
    const answer = (await svc.messages(alice, c.id))[1];
    expect(answer).toMatchObject({ status: 'cancelled', content: 'Once upon', usage: null });
    expect((await svc.get(alice, c.id)).title).toBe('long one');
  });

  it('stores an errored turn with the error it streamed', async () => {
    const c = await svc.create(alice);
    const turn = await svc.beginTurn(alice, c.id, { userText: 'q', requestId: 'r', model: 'm' });
    turn.appendText('par');
    turn.setError({
      code: 'upstream_disconnected',
      message: 'The model provider closed the stream early.',
    });
    await turn.end({ status: 'error', model: 'm', usage: null });
    expect((await svc.messages(alice, c.id))[1]).toMatchObject({
      status: 'error',
      content: 'par',
      error: { code: 'upstream_disconnected' },
    });
  });

  it('lists newest activity first, page by page, and searches titles literally', async () => {
    const ids: string[] = [];
    for (const t of ['alpha plan', 'beta 100% done', 'gamma plan', 'delta_x', 'epsilon']) {
      ids.push((await svc.create(alice, t)).id);
    }
    // activity moves the first conversation to the top
    await svc.beginTurn(alice, ids[0], { userText: 'again', requestId: 'r', model: 'm' });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await svc.list(alice, { limit: 2, cursor });
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((c) => c.title));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['alpha plan', 'epsilon', 'delta_x', 'gamma plan', 'beta 100% done']);

    const titles = async (search: string) =>
      (await svc.list(alice, { limit: 10, search })).data.map((c) => c.title);
    expect(await titles('PLAN')).toEqual(['alpha plan', 'gamma plan']);
    // LIKE metacharacters match themselves
    expect(await titles('%')).toEqual(['beta 100% done']);
    expect(await titles('_')).toEqual(['delta_x']);
    expect(await codeOf(svc.list(alice, { limit: 2, cursor: 'bm90LWEtY3Vyc29y' }))).toBe(
      'invalid_request',
    );
  });

  it('renames, and deletes a conversation with its messages', async () => {
    const c = await svc.create(alice, 'old');
    await svc.beginTurn(alice, c.id, { userText: 'q', requestId: 'r', model: 'm' });
    expect((await svc.rename(alice, c.id, '  new title ')).title).toBe('new title');
    await svc.delete(alice, c.id);
    expect(await codeOf(svc.get(alice, c.id))).toBe('not_found');
    const left = await db.query('SELECT 1 FROM conversation_messages WHERE conversation_id = $1', [
      c.id,
    ]);
    expect(left.rowCount).toBe(0);
  });
});

describe('titleFrom', () => {
  it('takes the first line, collapsed and cut at 80 characters', () => {
    expect(titleFrom('  hello   world \nmore')).toBe('hello world');
    expect(titleFrom('x'.repeat(100))).toHaveLength(80);
    expect(titleFrom('   ')).toBe('');
  });
});
