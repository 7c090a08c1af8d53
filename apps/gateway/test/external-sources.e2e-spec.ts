import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { auth, postJson, readSse, startHarness, type Harness } from './gateway.harness';

type Frame = Record<string, unknown>;

/**
 * `source://<name>` in `dataSources`: an admin-registered HTTP source is fetched
 * for the user's question through the SSRF guard and goes through the same
 * insert-or-retrieve path as files, cited in the sources frame. The source is a
 * real HTTP server on loopback, reached under a fake public name that only this
 * test's resolver knows (the guard refuses loopback otherwise).
 */
describe('external sources in chat (through the gateway)', () => {
  let h: Harness;
  let server: Server;
  let port: number;
  let userKey = '';
  const seen: string[] = [];

  const admin = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${h.url}${path}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: (text ? JSON.parse(text) : null) as Frame };
  };

  async function chat(dataSources: string[], question: string) {
    const res = await postJson(
      `${h.url}/chat`,
      {
        messages: [{ role: 'user', content: `${question}\n#sim echo=1` }],
        options: { model: { id: 'sim-gpt' } },
        dataSources,
      },
      { authorization: `Bearer ${userKey}` },
    );
    expect(res.status).toBe(200);
    const frames: Frame[] = [];
    for await (const f of readSse(res)) if (f.data) frames.push(JSON.parse(f.data) as Frame);
    const answer = frames
      .filter((f) => f.s === 'answer')
      .map((f) => f.d as string)
      .join('');
    const warnings = frames
      .filter((f) => f.s === 'meta' && (f.st as { warning?: boolean } | undefined)?.warning)
      .map((f) => (f.st as { message: string }).message);
    const state = frames.find((f) => f.s === 'meta' && f.state) as
      | { state: { sources?: { documents: { sources: Array<{ fileId: string; name: string }> } } } }
      | undefined;
    return { frames, answer, warnings, sources: state?.state.sources?.documents.sources ?? [] };
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url?.startsWith('/forecast'))
        return void res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(
            '<h1>Harbour forecast</h1><p>Storm warning for the harbour tonight, gusts 90 km/h.</p>',
          );
      if (req.url?.startsWith('/inside'))
        return void res.writeHead(302, { location: 'http://10.0.0.7/secrets' }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    h = await startHarness(
      {},
      {
        infrastructure: {
          ssrf: {
            // TEST ONLY: one fake public name for the loopback server above
            resolve: (host) =>
              host === 'weather.example.test'
                ? Promise.resolve([{ address: '127.0.0.1', family: 4 as const }])
                : Promise.reject(new Error(`ENOTFOUND ${host}`)),
            unsafeAllowAddressForTests: (ip) => ip === '127.0.0.1',
          },
        },
      },
    );
    await admin('POST', '/admin/accounts', { id: 'acct', name: 'acct' });
    const k = await admin('POST', '/admin/keys', {
      ownerUserId: 'user-1',
      accountId: 'acct',
      scopes: ['chat'],
    });
    userKey = k.json.key as string;
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('refuses a template that lets the query pick the host, port or credentials (400 at create)', async () => {
    for (const urlTemplate of [
      'http://x{query}/',
      `http://weather.example.test:${port}{query}`,
      `http://weather.example.test:{query}/`,
      'http://{query}@weather.example.test/',
      'https://{query}.example.test/',
    ]) {
      const r = await admin('POST', '/admin/sources', { name: 'evil', urlTemplate });
      expect([urlTemplate, r.status]).toEqual([urlTemplate, 400]);
      expect(r.json.error).toMatchObject({ code: 'invalid_request', param: 'urlTemplate' });
    }
    expect((await admin('GET', '/admin/sources')).json.data).toEqual([]);
  });

  it('fetches source://name for the question and cites it in the sources frame', async () => {
    const created = await admin('POST', '/admin/sources', {
      name: 'weather',
      urlTemplate: `http://weather.example.test:${port}/forecast?q={query}`,
    });
    expect(created.status).toBe(201);
    seen.length = 0;
    const r = await chat(['source://weather'], 'Is there a storm at the harbour?');
    expect(r.warnings).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(decodeURIComponent(seen[0])).toContain('/forecast?q=Is there a storm at the harbour?');
    expect(r.sources).toEqual([
      expect.objectContaining({ fileId: 'source://weather', name: 'weather' }),
    ]);
    // the fetched text reached the model (the simulator echoes its prompt)
    expect(r.answer).toContain('Storm warning for the harbour tonight');
  });

  it('turns an unknown source and one that redirects inside the network into warnings', async () => {
    await admin('POST', '/admin/sources', {
      name: 'sneaky',
      urlTemplate: `http://weather.example.test:${port}/inside?q={query}`,
    });
    const r = await chat(['source://nope', 'source://sneaky'], 'anything?');
    expect(r.warnings).toEqual([
      'The data source was not found.',
      'The source could not be fetched (blocked_address).',
    ]);
    expect(r.sources).toEqual([]);
    expect(r.answer).not.toContain('secrets');
  });
});
