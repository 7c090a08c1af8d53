import { DATABASE, type Database } from '@switchboard/storage';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TEST_MODELS,
  auth,
  postJson,
  readSse,
  startHarness,
  waitFor,
  type Harness,
} from './gateway.harness';

/** A small-window model, so a modest document is "5x the context window". */
const MODELS = {
  models: [
    ...TEST_MODELS.models,
    {
      id: 'sim-small',
      provider: 'openai',
      upstreamModel: 'small-upstream',
      contextWindow: 3000,
      maxOutputTokens: 256,
      pricing: { input: 0.15, cachedInput: 0.075, output: 0.6, checked: '2025-10-01' },
      capabilities: ['chat', 'streaming', 'tools'],
    },
  ],
};

type Frame = Record<string, unknown>;

describe('chat over documents: sources, isolation, map-reduce and the agent (through the gateway)', () => {
  let h: Harness;
  const keys: Record<'a' | 'b', string> = { a: '', b: '' };
  const bearer = (who: 'a' | 'b') => ({ authorization: `Bearer ${keys[who]}` });

  async function admin(method: string, path: string, body: unknown) {
    const r = await fetch(`${h.url}${path}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await r.json()) as Record<string, unknown>;
  }

  async function upload(who: 'a' | 'b', name: string, text: string, type: string): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([text], { type }), name);
    const r = await fetch(`${h.url}/files`, { method: 'POST', headers: bearer(who), body: form });
    expect(r.status).toBe(201);
    const id = ((await r.json()) as { id: string }).id;
    await waitFor(
      async () => {
        const f = (await (
          await fetch(`${h.url}/files/${id}`, { headers: bearer(who) })
        ).json()) as { status: string };
        if (f.status === 'failed') throw new Error(`ingestion failed for ${name}`);
        return f.status === 'ready';
      },
      20_000,
      50,
    );
    return id;
  }

  async function chat(
    who: 'a' | 'b',
    body: Record<string, unknown>,
  ): Promise<{ status: number; frames: Frame[]; answer: string; requestId: string }> {
    const res = await postJson(`${h.url}/chat`, body, bearer(who));
    const requestId = res.headers.get('x-request-id') ?? '';
    if (res.status !== 200)
      return { status: res.status, frames: [(await res.json()) as Frame], answer: '', requestId };
    const frames: Frame[] = [];
    for await (const f of readSse(res)) if (f.data) frames.push(JSON.parse(f.data) as Frame);
    const answer = frames
      .filter((f) => f.s === 'answer')
      .map((f) => f.d as string)
      .join('');
    return { status: 200, frames, answer, requestId };
  }

  let csvId: string;
  let htmlId: string;

  beforeAll(async () => {
    const file = join(tmpdir(), `sb-models-${process.pid}.json`);
    await writeFile(file, JSON.stringify(MODELS));
    h = await startHarness({
      MODELS_FILE: file,
      EMBEDDING_MODEL: 'sim-embed',
      EMBEDDING_DIMENSIONS: '1536',
    });
    for (const [who, account] of [
      ['a', 'acct-a'],
      ['b', 'acct-b'],
    ] as const) {
      await admin('POST', '/admin/accounts', { id: account, name: account });
      const k = await admin('POST', '/admin/keys', {
        ownerUserId: `user-${who}`,
        accountId: account,
        scopes: ['chat', 'files'],
      });
      keys[who] = k.key as string;
    }
    csvId = await upload(
      'a',
      'fleet.csv',
      'vessel,port,cargo\nAurora,Lisbon,cork\nBorealis,Tromso,salmon\nCaldera,Naples,lemons\n',
      'text/csv',
    );
    htmlId = await upload(
      'a',
      'notes.html',
      '<html><head><script>evil()</script></head><body><h1>Field notes</h1><p>The zebra crossing survey counted 412 zebras near the river.</p></body></html>',
      'text/html',
    );
  }, 60_000);
  afterAll(() => h.close());

  it('streams a sources state frame pointing at the right row, and the relevant text reaches the model', async () => {
    h.sim.reset();
    const r = await chat('a', {
      messages: [{ role: 'user', content: 'Which port does Borealis sail from?\n#sim echo=1' }],
      options: { model: { id: 'sim-gpt' } },
      dataSources: [csvId],
    });
    expect(r.status).toBe(200);
    const state = r.frames.find((f) => f.s === 'meta' && f.state) as {
      state: {
        sources: {
          documents: { sources: Array<{ fileId: string; name: string; location: string }> };
        };
      };
    };
    expect(state).toBeDefined();
    const src = state.state.sources.documents.sources.find((s) => s.fileId === csvId);
    expect(src?.name).toBe('fleet.csv');
    expect(src?.location).toMatch(/row/i);
    expect(r.answer).toContain('vessel: Borealis; port: Tromso');
    expect(r.answer).toMatch(/cite|\[1\]/i);
  });

  it('HTML sources drop scripts; a tag:// reference resolves to the tagged files', async () => {
    expect(
      (
        await fetch(`${h.url}/files/${htmlId}/tags`, {
          method: 'PUT',
          headers: { ...bearer('a'), 'content-type': 'application/json' },
          body: JSON.stringify({ tags: ['survey'] }),
        })
      ).status,
    ).toBe(200);
    const r = await chat('a', {
      messages: [{ role: 'user', content: 'How many zebras?\n#sim echo=1' }],
      options: { model: { id: 'sim-gpt' } },
      dataSources: ['tag://survey'],
    });
    expect(r.answer).toContain('412 zebras');
    expect(r.answer).not.toContain('evil()');
  });

  it("user B gets a warning, never A's text: by id, by tag and through retrieval", async () => {
    h.sim.reset();
    const r = await chat('b', {
      messages: [
        { role: 'user', content: 'Which port does Borealis sail from? zebras?\n#sim echo=1' },
      ],
      options: { model: { id: 'sim-gpt' }, ragOnly: true },
      dataSources: [csvId, htmlId, 'tag://survey'],
    });
    expect(r.status).toBe(200);
    expect(r.frames.some((f) => f.s === 'meta' && (f.st as { warning?: boolean })?.warning)).toBe(
      true,
    );
    const prompts = JSON.stringify(
      (
        (await (await fetch(`${h.sim.url}/_sim/requests?limit=5`)).json()) as {
          requests: unknown[];
        }
      ).requests,
    );
    expect(prompts).not.toContain('Tromso');
    expect(prompts).not.toContain('412 zebras');
    // B's own agent search finds nothing of A's either
    const agent = await chat('b', {
      messages: [
        {
          role: 'user',
          content: 'search\n#sim tool=search_documents args={"query":"zebras Tromso"}',
        },
      ],
      options: { model: { id: 'sim-gpt' }, assistantId: 'agent' },
    });
    expect(agent.answer).not.toContain('412');
    expect(agent.answer).not.toContain('Tromso');
  });

  it('agent: the model calls search_documents, the tool result carries the matching chunk, then it answers', async () => {
    const r = await chat('a', {
      messages: [
        {
          role: 'user',
          content: 'find the zebra count\n#sim tool=search_documents args={"query":"zebra survey"}',
        },
      ],
      options: { model: { id: 'sim-gpt' }, assistantId: 'agent' },
    });
    expect(r.status).toBe(200);
    expect(r.frames).toContainEqual(
      expect.objectContaining({
        s: 'meta',
        state: { currentAssistant: expect.objectContaining({ id: 'agent' }) },
      }),
    );
    expect(r.answer).toContain('search_documents');
    expect(r.answer).toContain('412 zebras');
  });

  it('map-reduce over a document 5x the context window: N map calls + 1 reduce, N+1 ledger rows under one request id', async () => {
    const para = (i: number) =>
      `Section ${i}. The harbour ledger for week ${i} lists arrivals, departures and cargo weights in detail. `.repeat(
        6,
      );
    const big = Array.from({ length: 120 }, (_, i) => para(i)).join('\n\n'); // ~15k tokens
    const id = await upload('a', 'ledger.txt', big, 'text/plain');
    h.sim.reset();
    const r = await chat('a', {
      messages: [{ role: 'user', content: 'Summarize the whole ledger.\n#sim tokens=5' }],
      options: { model: { id: 'sim-small' } },
      dataSources: [id],
    });
    expect(r.status).toBe(200);
    expect(r.frames).toContainEqual(
      expect.objectContaining({
        s: 'meta',
        state: { currentAssistant: expect.objectContaining({ id: 'map-reduce' }) },
      }),
    );
    expect(
      r.frames.some(
        (f) =>
          f.s === 'meta' &&
          /mapping \d+\/\d+/.test(String((f.st as { message?: string })?.message)),
      ),
    ).toBe(true);
    const calls = h.sim.stats().started;
    expect(calls).toBeGreaterThanOrEqual(6); // >= 5 maps + 1 reduce
    const end = r.frames[r.frames.length - 1] as { s: string; status: string };
    expect(end).toMatchObject({ s: 'result', status: 'complete' });
    const db: Database = h.gateway.app.get(DATABASE);
    let rows = 0;
    await waitFor(
      async () => {
        rows = Number(
          (
            await db.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM usage_ledger WHERE request_id = $1',
              [r.requestId],
            )
          ).rows[0].n,
        );
        return rows === calls;
      },
      5000,
      50,
    );
    expect(rows).toBe(calls);
  }, 60_000);

  it('map-reduce: a client abort mid-map aborts every in-flight sub-call at the simulator', async () => {
    const para = (i: number) =>
      `Part ${i}. Inventory of crates, barrels and sacks stored in warehouse ${i}. `.repeat(8);
    const id = await upload(
      'a',
      'inventory.txt',
      Array.from({ length: 100 }, (_, i) => para(i)).join('\n\n'),
      'text/plain',
    );
    h.sim.reset();
    const ac = new AbortController();
    // headers wait for the first token, so do not wait for the response here
    const pending = postJson(
      `${h.url}/chat`,
      {
        messages: [{ role: 'user', content: 'Summarize every part.\n#sim ttft=5000 tokens=3' }],
        options: { model: { id: 'sim-small' }, assistantId: 'map-reduce' },
        dataSources: [id],
      },
      bearer('a'),
      ac.signal,
    ).catch(() => undefined);
    await waitFor(() => h.sim.stats().open >= 2, 10_000, 20);
    const inFlight = h.sim.stats().open;
    ac.abort();
    await pending;
    await waitFor(() => h.sim.stats().open === 0, 10_000, 10);
    expect(h.sim.stats().aborted).toBeGreaterThanOrEqual(inFlight);
    expect(h.sim.stats().completed).toBe(0);
  }, 60_000);

  it('a 300-turn conversation is fitted to the window: summarised, and the last user message reaches the model', async () => {
    const messages: Array<{ role: 'user' | 'assistant'; content: string }> = [];
    for (let i = 0; i < 299; i++)
      messages.push({
        role: i % 2 === 0 ? 'user' : 'assistant',
        content: `Turn ${i}: we discussed shipment ${i} and its paperwork in some detail.`,
      });
    messages.push({ role: 'user', content: 'FINAL QUESTION: what was decided?\n#sim echo=1' });
    h.sim.reset();
    const r = await chat('a', { messages, options: { model: { id: 'sim-small' } } });
    expect(r.status).toBe(200);
    expect(
      r.frames.some(
        (f) => f.s === 'meta' && /summaris/i.test(String((f.st as { message?: string })?.message)),
      ),
    ).toBe(true);
    expect(r.answer).toContain('FINAL QUESTION: what was decided?');
    const reqs = (await (await fetch(`${h.sim.url}/_sim/requests?limit=10`)).json()) as {
      requests: Array<{ body: { model: string; messages: Array<{ content: string }> } }>;
    };
    const answerCall = reqs.requests[reqs.requests.length - 1].body;
    expect(answerCall.messages[answerCall.messages.length - 1].content).toContain('FINAL QUESTION');
    expect(answerCall.messages.length).toBeLessThan(300);
  }, 60_000);
});
