import { createTestPostgres, type TestPostgres } from '@switchboard/storage/testing';
import { auth, chatBody, postJson, readSse, startHarness, type Harness } from './gateway.harness';

/**
 * GET /usage/report over HTTP: totals straight after the requests (the ledger
 * is flushed first), JSON and CSV, own usage only for non-admins, filters for
 * admins, 400 on bad parameters. Run on the embedded PGlite and on a real
 * PostgreSQL server (the adapters return bigint sums and timestamps differently).
 */

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DAY = 86_400_000;

interface Row {
  userId?: string;
  accountId?: string;
  model?: string;
  day?: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
}

describe.each([
  { database: 'PGlite', postgres: false },
  { database: 'PostgreSQL', postgres: true },
])('usage reports over HTTP ($database)', ({ postgres }) => {
  let h: Harness;
  let pg: TestPostgres | undefined;
  let rita: string;
  let sam: string;
  let today: string;
  let range: string;

  const get = async (path: string, headers: Record<string, string> = auth) => {
    const res = await fetch(`${h.url}${path}`, { headers });
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json')
      ? (JSON.parse(text) as { data: Row[]; error?: { code: string; param: string | null } })
      : undefined;
    return { status: res.status, headers: res.headers, text, json };
  };

  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (res.status === 204 ? null : await res.json()) as never };
  };

  const chat = async (key: string, text: string, clientRequestId?: string) => {
    const body = chatBody(text) as { options: Record<string, unknown> };
    if (clientRequestId !== undefined) body.options.requestId = clientRequestId;
    const res = await postJson(`${h.url}/chat`, body, bearer(key));
    expect(res.status).toBe(200);
    const frames: Array<Record<string, unknown>> = [];
    for await (const f of readSse(res)) if (f.data) frames.push(JSON.parse(f.data));
    expect(frames.at(-1)).toMatchObject({ s: 'result', type: 'end' });
  };

  beforeAll(async () => {
    pg = postgres ? await createTestPostgres({ poolSize: 1 }) : undefined;
    h = await startHarness(pg ? { DATABASE_URL: pg.url } : {});
    for (const [account, user] of [
      ['ops', 'rita'],
      ['lab', 'sam'],
    ] as const) {
      expect((await send('POST', '/admin/accounts', { id: account, name: account })).status).toBe(
        201,
      );
      await send('PUT', `/admin/accounts/${account}/members/${user}`);
    }
    const key = async (ownerUserId: string, accountId: string) => {
      const r = await send('POST', '/admin/keys', { ownerUserId, accountId, scopes: ['chat'] });
      return (r.json as { key: string }).key;
    };
    rita = await key('rita', 'ops');
    sam = await key('sam', 'lab');
    today = isoDay(Date.now());
    await chat(rita, 'one\n#sim tokens=5', 'order-17');
    await chat(rita, 'two\n#sim tokens=5');
    // another user's request with the same client id is not rita's
    await chat(sam, 'three\n#sim tokens=4', 'order-17');
    range = `from=${isoDay(Date.now() - DAY)}&to=${isoDay(Date.now() + DAY)}`;
  });
  afterAll(async () => {
    await h?.close();
    await pg?.drop();
  });

  it('right after two chats, the JSON report shows 2 requests and their tokens for the user/model', async () => {
    const r = await get(`/usage/report?${range}&groupBy=user,model,day`, bearer(rita));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json!.data).toEqual([
      {
        userId: 'rita',
        model: 'sim-gpt',
        day: today,
        requests: 2,
        inputTokens: expect.any(Number),
        cachedInputTokens: 0,
        outputTokens: 10,
        reasoningTokens: 0,
        costMicros: expect.any(Number),
      },
    ]);
    const [row] = r.json!.data;
    expect(row.inputTokens).toBeGreaterThan(0);
    expect(row.costMicros).toBeGreaterThan(0);
  });

  it('the CSV report has the same totals, as text/csv with a filename', async () => {
    const from = isoDay(Date.now() - DAY);
    const to = isoDay(Date.now() + DAY);
    const r = await get(
      `/usage/report?from=${from}&to=${to}&groupBy=user,model,day&format=csv`,
      bearer(rita),
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(r.headers.get('content-disposition')).toBe(
      `attachment; filename="usage-${from}-${to}.csv"`,
    );
    const lines = r.text.split('\r\n');
    expect(lines[0]).toBe(
      'day,user_id,model,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_micros',
    );
    expect(lines).toHaveLength(3); // header, one row, the empty string after the final CRLF
    const cells = lines[1].split(',');
    expect(cells.slice(0, 4)).toEqual([today, 'rita', 'sim-gpt', '2']);
    expect(Number(cells[4])).toBeGreaterThan(0);
    expect(cells[6]).toBe('10');
    expect(Number(cells[8])).toBeGreaterThan(0);
  });

  it("a non-admin never sees another user's usage, whatever they ask for", async () => {
    for (const q of ['groupBy=user', 'groupBy=user&userId=sam', 'groupBy=user,account']) {
      const r = await get(`/usage/report?${range}&${q}`, bearer(rita));
      expect(r.status).toBe(200);
      expect(r.json!.data.map((x) => x.userId)).toEqual(['rita']);
    }
    const other = await get(`/usage/report?${range}&groupBy=user&accountId=lab`, bearer(rita));
    expect(other.json!.data).toEqual([]);
    const csv = await get(`/usage/report?${range}&userId=sam&format=csv`, bearer(rita));
    expect(csv.text).not.toContain('sam');
  });

  it('an admin sees everyone and may filter by user or account', async () => {
    const all = await get(`/usage/report?${range}&groupBy=user`);
    expect(all.json!.data.map((x) => [x.userId, x.requests])).toEqual([
      ['rita', 2],
      ['sam', 1],
    ]);
    const totals = await get(`/usage/report?${range}&groupBy=`);
    expect(totals.json!.data).toEqual([expect.objectContaining({ requests: 3 })]);
    expect(totals.json!.data[0]).not.toHaveProperty('userId');

    const bySam = await get(`/usage/report?${range}&groupBy=user,model&userId=sam`);
    expect(bySam.json!.data).toEqual([
      expect.objectContaining({ userId: 'sam', model: 'sim-gpt', requests: 1, outputTokens: 4 }),
    ]);

    const ops = await get(`/usage/report?${range}&groupBy=model&accountId=ops`);
    expect(ops.json!.data).toEqual([expect.objectContaining({ model: 'sim-gpt', requests: 2 })]);
    expect(ops.json!.data[0]).not.toHaveProperty('accountId');
    const opsByAccount = await get(`/usage/report?${range}&groupBy=account,user&accountId=ops`);
    expect(opsByAccount.json!.data).toEqual([
      expect.objectContaining({ accountId: 'ops', userId: 'rita', requests: 2 }),
    ]);
  });

  it("clientRequestId keeps the calls of the request the caller named so, never another user's", async () => {
    const mine = await get(
      `/usage/report?${range}&groupBy=user&clientRequestId=order-17`,
      bearer(rita),
    );
    expect(mine.status).toBe(200);
    expect(mine.json!.data).toEqual([
      expect.objectContaining({ userId: 'rita', requests: 1, outputTokens: 5 }),
    ]);
    expect(mine.json).toMatchObject({ clientRequestId: 'order-17' });
    // an admin sees every user's request of that name, or one user's with userId
    const all = await get(`/usage/report?${range}&groupBy=user&clientRequestId=order-17`);
    expect(all.json!.data.map((x) => [x.userId, x.requests, x.outputTokens])).toEqual([
      ['rita', 1, 5],
      ['sam', 1, 4],
    ]);
    const sams = await get(
      `/usage/report?${range}&groupBy=user&clientRequestId=order-17&userId=sam`,
    );
    expect(sams.json!.data.map((x) => x.userId)).toEqual(['sam']);
    const none = await get(`/usage/report?${range}&clientRequestId=nope`, bearer(rita));
    expect(none.json!.data).toEqual([]);
    const bad = await get(`/usage/report?${range}&clientRequestId=${encodeURIComponent('a b')}`);
    expect(bad.status).toBe(400);
    expect(bad.json!.error).toMatchObject({ code: 'invalid_request', param: 'clientRequestId' });
  });

  it('defaults to this month up to the end of today, grouped by user, model and day', async () => {
    const r = await get('/usage/report', bearer(sam));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ groupBy: ['user', 'model', 'day'], userId: 'sam' });
    expect(r.json!.data).toEqual([
      expect.objectContaining({ userId: 'sam', model: 'sim-gpt', day: today, requests: 1 }),
    ]);
  });

  it('a date-only `to` includes that day; a timestamp `to` is exclusive', async () => {
    const day = await get(`/usage/report?from=${today}&to=${today}&groupBy=user`, bearer(rita));
    expect(day.json!.data).toEqual([expect.objectContaining({ requests: 2 })]);
    const before = await get(
      `/usage/report?from=${today}&to=${today}T00:00:00Z&groupBy=user`,
      bearer(rita),
    );
    expect(before.json!.data).toEqual([]);
  });

  it.each([
    ['from=yesterday', 'from'],
    ['from=2026-13-01', 'from'],
    ['to=2026-01-01T10:00:00', 'to'],
    ['from=2026-02-01&to=2026-01-01', 'to'],
    ['groupBy=user,planet', 'groupBy'],
    ['format=xml', 'format'],
    ['accountId=no%20spaces', 'accountId'],
    ['userId=a&userId=b', 'userId'],
  ])('400 for %s', async (q, param) => {
    const r = await get(`/usage/report?${q}`, bearer(rita));
    expect(r.status).toBe(400);
    expect(r.json!.error).toMatchObject({ code: 'invalid_request', param });
  });

  it('runs on the intended database', async () => {
    const ready = (await (await fetch(`${h.url}/ready`)).json()) as {
      details: { database: { kind: string } };
    };
    expect(ready.details.database.kind).toBe(postgres ? 'postgres' : 'pglite');
  });

  it('needs credentials', async () => {
    const r = await get('/usage/report', {});
    expect(r.status).toBe(401);
  });
});
