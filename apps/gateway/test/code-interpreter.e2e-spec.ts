import { UsageLedger, costMicros } from '@switchboard/billing';
import type { TokenUsage } from '@switchboard/llm';
import { DATABASE, type Database } from '@switchboard/storage';
import {
  TEST_MODELS,
  auth,
  chatBody,
  postJson,
  readSse,
  startHarness,
  waitFor,
  type Harness,
} from './gateway.harness';

type Frame = {
  s: string;
  d?: unknown;
  st?: Record<string, unknown>;
  state?: Record<string, unknown>;
} & Record<string, unknown>;

interface GeneratedFile {
  fileId: string;
  name: string;
  mime: string;
  size: number;
}

/**
 * Hosted code execution end to end: /chat with the code-interpreter assistant
 * on a model whose provider runs code (OpenAI Responses API, simulated), the
 * code run as status frames, the produced files stored as files of the user
 * and downloadable by them only, one ledger row, and aborts reaching upstream.
 */
describe('code interpreter over /chat', () => {
  let h: Harness;
  const keys: Record<string, string> = {};

  const chat = async (text: string, key: string, extra: Record<string, unknown> = {}) => {
    const body = chatBody(text, {
      options: { model: { id: 'sim-coder' }, assistantId: 'code-interpreter' },
      ...extra,
    });
    const res = await postJson(`${h.url}/chat`, body, { authorization: `Bearer ${key}` });
    const requestId = res.headers.get('x-request-id') ?? '';
    if (!res.headers.get('content-type')?.startsWith('text/event-stream'))
      return { status: res.status, frames: [(await res.json()) as Frame], requestId };
    const frames: Frame[] = [];
    for await (const f of readSse(res)) if (f.data) frames.push(JSON.parse(f.data) as Frame);
    return { status: res.status, frames, requestId };
  };
  const answer = (frames: Frame[]) =>
    frames
      .filter((f) => f.s === 'answer')
      .map((f) => f.d as string)
      .join('');
  const generated = (frames: Frame[]): GeneratedFile[] => {
    const states = frames.filter((f) => f.s === 'meta' && f.state?.generatedFiles);
    return (states.at(-1)?.state?.generatedFiles as GeneratedFile[] | undefined) ?? [];
  };
  const get = (path: string, key: string) =>
    fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    h = await startHarness({ UPLOAD_MAX_BYTES: String(200_000) });
    for (const user of ['alice', 'mallory', 'bea']) {
      const account = `acct-${user}`;
      await postJson(`${h.url}/admin/accounts`, { id: account, name: account });
      await fetch(`${h.url}/admin/accounts/${account}/members/${user}`, {
        method: 'PUT',
        headers: auth,
      });
      const issued = await postJson(`${h.url}/admin/keys`, {
        ownerUserId: user,
        accountId: account,
        scopes: ['chat', 'files'],
      });
      expect(issued.status).toBe(201);
      keys[user] = ((await issued.json()) as { key: string }).key;
    }
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('streams the code run and the answer, stores the produced files for the user, one ledger row', async () => {
    const r = await chat('Chart the sales\n#sim tokens=6 files=sales.csv,chart.png', keys.alice);
    expect(r.status).toBe(200);
    const metas = r.frames.filter((f) => f.s === 'meta');
    expect(metas[0].state).toEqual({
      currentAssistant: { id: 'code-interpreter', name: 'Code interpreter' },
    });
    const st = metas.flatMap((f) => (f.st ? [f.st] : []));
    expect(st.map((s) => s.message)).toEqual([
      'running code',
      'ran code',
      'saved sales.csv',
      'saved chart.png',
    ]);
    expect(st[1]).toMatchObject({ inProgress: false, ok: true, tool: 'code_interpreter' });
    expect(String(st[1].code)).toContain('chart.png');
    expect(answer(r.frames).split(' ')).toHaveLength(6);

    const files = generated(r.frames);
    expect(files.map((f) => [f.name, f.mime])).toEqual([
      ['sales.csv', 'text/csv'],
      ['chart.png', 'image/png'],
    ]);
    const end = r.frames.at(-1)!;
    expect(end).toMatchObject({ s: 'result', status: 'complete', model: 'sim-coder' });
    // tokens plus one container session ($0.03)
    const usage = end.usage as TokenUsage & { costMicros: number };
    expect(usage).toMatchObject({ outputTokens: 6, codeInterpreterSessions: 1, estimated: false });
    const pricing = TEST_MODELS.models.find((m) => m.id === 'sim-coder')!.pricing;
    expect(usage.costMicros).toBe(costMicros(usage, pricing));
    expect(usage.costMicros).toBe(
      costMicros({ ...usage, codeInterpreterSessions: 0 }, pricing) + 30_000,
    );

    // the files are the user's: listed with the `generated` tag, downloadable byte for byte
    const png = files[1];
    const meta = await get(`/files/${png.fileId}`, keys.alice);
    expect(meta.status).toBe(200);
    expect(await meta.json()).toMatchObject({
      name: 'chart.png',
      tags: ['generated'],
      owned: true,
    });
    const content = await get(`/files/${png.fileId}/content`, keys.alice);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toMatch(/^image\/png/);
    const bytes = new Uint8Array(await content.arrayBuffer());
    expect(bytes.byteLength).toBe(png.size);
    expect([...bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    // nobody else can see them
    expect((await get(`/files/${png.fileId}/content`, keys.mallory)).status).toBe(404);

    await h.gateway.app.get(UsageLedger).flush();
    const db = h.gateway.app.get<Database>(DATABASE);
    const rows = await db.query<{
      model: string;
      status: string;
      output_tokens: number;
      cost: number;
    }>(
      'SELECT model, status, output_tokens::int, cost_micros::int AS cost FROM usage_ledger WHERE request_id = $1',
      [r.requestId],
    );
    expect(rows.rows).toEqual([
      { model: 'sim-coder', status: 'complete', output_tokens: 6, cost: usage.costMicros },
    ]);
  });

  it('tells the user when a produced file is over the storage limit, and still answers', async () => {
    const r = await chat('#sim tokens=3 files=huge.csv,small.csv filebytes=300000', keys.alice);
    const st = r.frames.flatMap((f) => (f.s === 'meta' && f.st ? [f.st] : []));
    expect(st.filter((s) => s.ok === false).map((s) => s.message)).toEqual([
      expect.stringMatching(/^could not save huge\.csv: /),
      expect.stringMatching(/^could not save small\.csv: /),
    ]);
    expect(generated(r.frames)).toEqual([]);
    expect(r.frames.at(-1)).toMatchObject({ s: 'result', status: 'complete' });
  });

  it('holds the container session against the budget before calling upstream', async () => {
    // $0.025 a day: enough for a plain answer (at most ~$0.009), not for a $0.03 container
    const put = await fetch(`${h.url}/admin/budgets/user/bea/day`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ limitMicros: 25_000 }),
    });
    expect(put.status).toBeLessThan(300);
    const plain = await chat('#sim tokens=2', keys.bea, {
      options: { model: { id: 'sim-coder' } },
    });
    expect(plain.status).toBe(200);
    const coded = await chat('#sim tokens=2', keys.bea);
    expect(coded.status).toBe(402);
    expect(coded.frames[0]).toMatchObject({ error: { code: 'budget_exceeded' } });
    expect(h.sim.stats().started).toBe(1);
  });

  it("puts the user's documents in the sandbox as the original files, and removes the upload afterwards", async () => {
    const csv = 'month,revenue\n1,100\n2,120\n3,135\n';
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'revenue.csv');
    const up = await fetch(`${h.url}/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.alice}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const id = ((await up.json()) as { id: string }).id;
    await waitFor(
      async () =>
        ((await (await get(`/files/${id}`, keys.alice)).json()) as { status: string }).status ===
        'ready',
      20_000,
      50,
    );

    const r = await chat('What is the total revenue?\n#sim tokens=4', keys.alice, {
      dataSources: [id],
    });
    expect(r.status).toBe(200);
    const st = r.frames.flatMap((f) => (f.s === 'meta' && f.st ? [f.st] : []));
    expect(st.find((s) => s.id === 'sandbox-files')).toMatchObject({ files: ['revenue.csv'] });
    const ran = st.find((s) => s.message === 'ran code')!;
    expect(String(ran.logs)).toContain(
      `read /mnt/data/revenue.csv (${Buffer.byteLength(csv)} bytes)`,
    );
    const [req] = (
      (await (await fetch(`${h.sim.url}/_sim/requests?limit=1`)).json()) as {
        requests: Array<{ body: unknown }>;
      }
    ).requests;
    expect(JSON.stringify(req.body)).not.toContain('2,120');
    const live = (await (await fetch(`${h.sim.url}/_sim/files`)).json()) as
      { files: unknown[] } | unknown[];
    expect(Array.isArray(live) ? live : live.files).toEqual([]);
    expect(r.frames.at(-1)).toMatchObject({ s: 'result', status: 'complete' });
  });

  it('refuses a model without hosted code execution with 400 unsupported_capability before streaming', async () => {
    const r = await chat('hello', keys.alice, {
      options: { model: { id: 'sim-gpt' }, assistantId: 'code-interpreter' },
    });
    expect(r.status).toBe(400);
    expect(r.frames[0]).toMatchObject({
      error: { code: 'unsupported_capability', param: 'model' },
    });
    expect(h.sim.stats().started).toBe(0);
  });

  it('aborts the upstream call when the client leaves while the model is answering', async () => {
    const ac = new AbortController();
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('#sim tokens=2000 tps=40 files=a.csv', {
        options: { model: { id: 'sim-coder' }, assistantId: 'code-interpreter' },
      }),
      { authorization: `Bearer ${keys.alice}` },
      ac.signal,
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await waitFor(() => h.sim.stats().aborted === 1, 5000);
  });
});
