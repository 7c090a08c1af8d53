import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Principal } from '@switchboard/auth';
import { Migrator, type PgliteDatabase } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { user } from '../../test/principals';
import { datasourceMigrations } from '../datasources.migrations';
import {
  type ExternalSourceInput,
  ExternalSourceService,
  assertUrlTemplate,
  fillUrlTemplate,
} from './external-source.service';
import { SsrfGuard } from './ssrf-guard';

const admin: Principal = { ...user('root'), scopes: ['admin'] };

describe('URL templates: the query fills the path or query string only', () => {
  it.each([
    'http://x{query}/',
    'http://x{query}.example.test/',
    'http://{query}/',
    'http://{query}.example.test/',
    'http://example.test{query}',
    'http://example.test{query}/path',
    'http://example.test:{query}/',
    'http://example.test:80{query}/',
    'http://{query}@example.test/',
    'http://user:{query}@example.test/',
    'http://user:pw@example.test/?q={query}',
    'http://[::1{query}]/',
    'https://example.test/#{query}',
    '{query}://example.test/',
    'http{query}://example.test/',
    'ftp://example.test/{query}',
    'http:/example.test/{query}',
    'http:example.test/{query}',
    'javascript:{query}',
  ])('refuses %s', (t) => {
    expect(() => assertUrlTemplate(t)).toThrow();
  });

  it.each([
    'http://example.test/search?q={query}',
    'https://example.test/{query}',
    'https://example.test/a/{query}/b?x={query}&y=1',
    'https://example.test:8443/?q={query}',
    'http://example.test\\{query}',
    'https://example.test?{query}',
  ])('accepts %s', (t) => {
    expect(() => assertUrlTemplate(t)).not.toThrow();
  });

  it('keeps the origin whatever the query holds', () => {
    for (const q of [
      '@evil.test',
      '/../@evil.test',
      '\\\\evil.test',
      '#@evil.test',
      '?x=1',
      ':80',
      '%2F%2Fevil',
    ])
      for (const t of [
        'https://example.test/{query}',
        'https://example.test?{query}',
        'http://example.test\\{query}',
      ])
        expect(new URL(fillUrlTemplate(t, q)).origin).toBe(
          new URL(t.replace('{query}', '')).origin,
        );
  });
});

describe('ExternalSourceService', () => {
  let db: PgliteDatabase;
  let server: Server;
  let base: string;
  let svc: ExternalSourceService;

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate(datasourceMigrations);
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url?.startsWith('/page'))
          return void res
            .writeHead(200, { 'content-type': 'text/html' })
            .end('<h1>Weather</h1><p>Sunny in Oslo.</p><script>x</script>');
        if (req.url?.startsWith('/internal'))
          return void res.writeHead(302, { location: 'http://192.168.0.10/' }).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            auth: req.headers.authorization ?? null,
            body,
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://api.example.test:${(server.address() as AddressInfo).port}`;
    // TEST ONLY: the fake public name maps to the local server, allowed by the test hook
    const guard = new SsrfGuard({
      resolve: (h) =>
        h === 'api.example.test'
          ? Promise.resolve([{ address: '127.0.0.1', family: 4 as const }])
          : Promise.reject(new Error('ENOTFOUND')),
      unsafeAllowAddressForTests: (ip) => ip === '127.0.0.1',
    });
    svc = new ExternalSourceService(db, {
      guard,
      secrets: (n) => ({ SOURCE_SECRET_WEATHER: 's3cr3t', DATABASE_URL: 'nope' })[n],
    });
  });
  afterAll(async () => {
    await db.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('only admins register; names, URLs, headers and secret references are validated', async () => {
    await expect(
      svc.register(user('bob'), { name: 'x', urlTemplate: `${base}/?q={query}` }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const bad: ExternalSourceInput[] = [
      { name: 'Bad Name', urlTemplate: `${base}/` },
      { name: 'a', urlTemplate: 'file:///etc/passwd' },
      { name: 'a', urlTemplate: 'http://{query}.example.test/' },
      { name: 'a', urlTemplate: 'http://x{query}/' },
      { name: 'a', urlTemplate: `${base}{query}` },
      { name: 'a', urlTemplate: `${base}/`, headers: { Host: 'x' } },
      { name: 'a', urlTemplate: `${base}/`, headers: { 'X-Key': 'a\r\nInjected: 1' } },
      {
        name: 'a',
        urlTemplate: `${base}/`,
        headers: { Authorization: 'Bearer ${secret:DATABASE_URL}' },
      },
      { name: 'a', urlTemplate: `${base}/`, bodyTemplate: '{}' },
    ];
    for (const input of bad)
      await expect(svc.register(admin, input)).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('fetches with the query encoded, secrets filled in from the environment, never stored', async () => {
    const src = await svc.register(admin, {
      name: 'weather',
      urlTemplate: `${base}/search?q={query}`,
      headers: { Authorization: 'Bearer ${secret:SOURCE_SECRET_WEATHER}' },
    });
    expect(JSON.stringify(await svc.list())).not.toContain('s3cr3t');
    expect(src.headers.Authorization).toBe('Bearer ${secret:SOURCE_SECRET_WEATHER}');
    const doc = await svc.fetch('weather', 'rain & wind?');
    const echoed = JSON.parse(doc.segments[0].text) as { url: string; auth: string };
    expect(echoed).toMatchObject({ url: '/search?q=rain%20%26%20wind%3F', auth: 'Bearer s3cr3t' });
    await expect(
      svc.register(admin, { name: 'weather', urlTemplate: `${base}/` }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('posts a JSON body template and reads HTML as readable text', async () => {
    await svc.register(admin, {
      name: 'poster',
      method: 'POST',
      urlTemplate: `${base}/api`,
      bodyTemplate: '{"q":"{query}"}',
    });
    const doc = await svc.fetch('poster', 'say "hi"');
    expect(JSON.parse(doc.segments[0].text)).toMatchObject({
      method: 'POST',
      body: '{"q":"say \\"hi\\""}',
    });
    await svc.register(admin, { name: 'page', urlTemplate: `${base}/page?q={query}` });
    expect((await svc.fetch('page', 'oslo')).segments).toEqual([
      { text: 'Weather\n\nSunny in Oslo.', location: { heading: 'Weather' } },
    ]);
  });

  it('refuses a source that redirects inside the network, and unknown sources', async () => {
    await svc.register(admin, { name: 'sneaky', urlTemplate: `${base}/internal?q={query}` });
    await expect(svc.fetch('sneaky', 'x')).rejects.toMatchObject({
      name: 'ExternalFetchError',
      reason: 'blocked_address',
    });
    await expect(svc.fetch('nope', 'x')).rejects.toMatchObject({ code: 'not_found' });
    // a row that never went through register() (older release, manual SQL) is checked again
    await db.query(
      `INSERT INTO external_sources (id, name, url_template, method, headers, body_template, created_by)
       VALUES ('legacy', 'legacy', 'http://x{query}/', 'GET', '{}'::jsonb, NULL, 'root')`,
    );
    await expect(svc.fetch('legacy', 'api.example.test:1')).rejects.toMatchObject({
      name: 'ExternalFetchError',
      reason: 'bad_url',
    });
    await svc.remove(admin, 'sneaky');
    await expect(svc.remove(admin, 'sneaky')).rejects.toMatchObject({ code: 'not_found' });
  });
});
