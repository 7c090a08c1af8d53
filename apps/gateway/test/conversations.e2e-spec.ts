import { SwitchboardClient, SwitchboardApiError, type ChatStreamEvent } from '@switchboard/client';
import { auth, postJson, startHarness, waitFor, type Harness } from './gateway.harness';

/**
 * Conversations over HTTP: private per user, and `/chat` turns appended as they
 * stream (completed, stopped with the kill switch, abandoned by the client),
 * driven through the typed client as a frontend would.
 */
describe('conversations (HTTP)', () => {
  let h: Harness;
  let alice: SwitchboardClient;
  let bob: SwitchboardClient;

  const keyFor = async (userId: string) => {
    const res = await postJson(`${h.url}/admin/keys`, {
      ownerUserId: userId,
      accountId: 'conv-team',
      scopes: ['chat', 'files'],
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  };

  beforeAll(async () => {
    h = await startHarness();
    expect((await postJson(`${h.url}/admin/accounts`, { id: 'conv-team', name: 'T' })).status).toBe(
      201,
    );
    alice = new SwitchboardClient({ baseUrl: h.url, token: await keyFor('alice') });
    bob = new SwitchboardClient({ baseUrl: h.url, token: await keyFor('bob') });
  }, 120_000);
  afterAll(() => h.close());

  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'resolved',
      (e: unknown) => (e instanceof SwitchboardApiError ? `${e.status} ${e.code}` : String(e)),
    );

  const ask = (text: string, conversationId: string, requestId?: string) => ({
    messages: [{ role: 'user' as const, content: text }],
    options: { model: { id: 'sim-gpt' }, conversationId, ...(requestId ? { requestId } : {}) },
  });

  it('appends a streamed turn with its usage; another user gets 404 on every route', async () => {
    const c = await alice.createConversation();
    const stream = await alice.chat(ask('Hello there\n#sim tokens=6 text=Hi', c.id));
    const events: ChatStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    const answer = events.flatMap((e) => (e.type === 'answer' ? [e.text] : [])).join('');
    const end = events.at(-1);
    expect(end).toMatchObject({ type: 'end', status: 'complete' });

    const msgs = await alice.conversationMessages(c.id);
    expect(msgs.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(msgs[1].content).toBe(answer);
    expect(msgs[1].usage).toMatchObject({
      outputTokens: end?.type === 'end' ? end.usage.outputTokens : -1,
    });
    expect((await alice.conversations()).data.map((x) => x.title)).toEqual(['Hello there']);

    // bob: not listed, not readable, not renamable, not deletable, cannot append
    expect((await bob.conversations()).data).toEqual([]);
    expect(await codeOf(bob.conversationMessages(c.id))).toBe('404 not_found');
    expect(await codeOf(bob.renameConversation(c.id, 'mine now'))).toBe('404 not_found');
    expect(await codeOf(bob.deleteConversation(c.id))).toBe('404 not_found');
    expect(await codeOf(bob.chat(ask('inject', c.id)))).toBe('404 not_found');
    expect(h.sim.stats().completed).toBe(1);
    expect(await alice.conversationMessages(c.id)).toHaveLength(2);
  });

  it('stores a turn stopped with the kill switch as cancelled, with its partial text', async () => {
    const c = await alice.createConversation('stop me');
    const stream = await alice.chat(ask('long\n#sim tokens=2000 tps=40', c.id, 'conv-stop-1'));
    let partial = '';
    for await (const ev of stream) {
      if (ev.type === 'answer') partial += ev.text;
      if (partial.length > 20) await stream.cancel();
    }
    await waitFor(async () => (await alice.conversationMessages(c.id))[1]?.status !== 'streaming');
    const answer = (await alice.conversationMessages(c.id))[1];
    expect(answer.status).toBe('cancelled');
    expect(answer.content.length).toBeGreaterThan(20);
    expect(partial.startsWith(answer.content) || answer.content.startsWith(partial)).toBe(true);
  });

  it('stores a turn whose client went away as cancelled', async () => {
    const c = await alice.createConversation('abandoned');
    const stream = await alice.chat(ask('long\n#sim tokens=2000 tps=40', c.id));
    for await (const ev of stream) {
      if (ev.type === 'answer') {
        stream.abort();
      }
    }
    await waitFor(async () => (await alice.conversationMessages(c.id))[1]?.status === 'cancelled');
  });

  it('the typed client streams /v1/chat/completions with usage and the served model', async () => {
    const { info, chunks } = await alice.completions({
      model: 'sim-gpt',
      messages: [{ role: 'user', content: 'hi\n#sim tokens=4' }],
      stream_options: { include_usage: true },
    });
    expect(info.model).toBe('sim-gpt');
    expect(info.attempt).toBe(1);
    let text = '';
    let usage: unknown;
    for await (const c of chunks) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text.split(' ')).toHaveLength(4);
    expect(usage).toMatchObject({ completion_tokens: 4 });
  });

  it('validates ids, titles and cursors with 400s', async () => {
    const bad = await fetch(`${h.url}/conversations?limit=0`, { headers: auth });
    expect(bad.status).toBe(400);
    const c = await alice.createConversation('x');
    expect(await codeOf(alice.renameConversation(c.id, '   '))).toBe('400 invalid_request');
    expect(
      await codeOf(alice.conversations({ cursor: Buffer.from('junk').toString('base64url') })),
    ).toBe('400 invalid_request');
  });
});
