import { Validator } from '@seriousme/openapi-schema-validator';
import { ROUTED_CONTROLLERS } from '../src/app.module';
import { routesOf } from '../src/openapi/openapi.document';
import { auth, postJson, startHarness, type Harness } from './gateway.harness';

interface Operation {
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** Express routes of the running app: the ground truth the document must cover. */
function expressRoutes(h: Harness): string[] {
  const app = h.gateway.app.getHttpAdapter().getInstance() as {
    router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
  };
  const out: string[] = [];
  for (const layer of app.router.stack)
    // the framework's catch-all (`{/*splat}`, the 404 of unknown paths) is not an API route
    if (layer.route && !layer.route.path.includes('*'))
      for (const [m, on] of Object.entries(layer.route.methods))
        if (on && m !== '_all') out.push(`${m} ${layer.route.path}`);
  return out.sort();
}

describe('API reference: /openapi.json and /docs', () => {
  let h: Harness;
  let doc: Doc;

  beforeAll(async () => {
    h = await startHarness({ CORS_ORIGINS: 'https://app.example.com' });
    const res = await fetch(`${h.url}/openapi.json`); // public: no key
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(() => h.close());

  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('lists every route the app serves, each with its request and response schemas', () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
      )
      .sort();
    expect(documented).toEqual(expressRoutes(h));
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const success = Object.entries(op.responses).find(([s]) => /^2\d\d$/.test(s));
        expect([path, method, success !== undefined]).toEqual([path, method, true]);
        const [status, body] = success!;
        // a 204 has no body; every other success names its content
        if (status !== '204' && method !== 'head' && !path.includes('members/{userId}'))
          expect([path, method, Object.keys(body.content ?? {}).length > 0]).toEqual([
            path,
            method,
            true,
          ]);
        expect(op.responses.default).toBeDefined();
      }
  });

  it('request schemas are the routes’ validation schemas', () => {
    const body = (path: string, method: string) =>
      doc.paths[path][method].requestBody!.content['application/json'].schema as {
        properties: Record<string, Record<string, unknown>>;
        required?: string[];
      };
    const responses = body('/v1/responses', 'post');
    expect(responses.required).toEqual(expect.arrayContaining(['model', 'input']));
    expect(responses.properties.temperature).toEqual({
      anyOf: [{ type: 'number', minimum: 0, maximum: 2 }, { type: 'null' }],
    });
    const completions = body('/v1/chat/completions', 'post');
    // MAX_MESSAGES comes from the configuration, as the route validates it
    expect(completions.properties.messages).toMatchObject({ maxItems: 500, minItems: 1 });
    expect(JSON.stringify(body('/admin/keys', 'post'))).toContain('ownerUserId');
    const items = doc.paths['/v1/responses/{id}/input_items'].get.parameters!.map((p) => p.name);
    expect(items).toEqual(expect.arrayContaining(['id', 'limit', 'order', 'after']));
    expect(doc.paths['/v1/responses'].post.responses['200'].content).toHaveProperty(
      'text/event-stream',
    );
    expect(doc.paths['/health'].get.security).toEqual([]);
  });

  it('every documented operation is reachable from the route table (no stale entry)', () => {
    const routes = routesOf(ROUTED_CONTROLLERS);
    expect(routes.every((r) => r.doc !== undefined)).toBe(true);
    expect(routes).toHaveLength(
      Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0),
    );
  });

  it('/docs serves the reference page from the package, with no third-party origin', async () => {
    const page = await fetch(`${h.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      const r = await fetch(`${h.url}${ref}`);
      expect([ref, r.status]).toEqual([ref, 200]);
      expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    const init = await (await fetch(`${h.url}/docs/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
    // only the allowlisted files; no path tricks
    expect((await fetch(`${h.url}/docs/package.json`)).status).toBe(404);
    expect((await fetch(`${h.url}/docs/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  describe('small things', () => {
    it('a wrong method on a known path is 405 with Allow', async () => {
      const r = await fetch(`${h.url}/v1/chat/completions`, { headers: auth });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('POST');
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe(
        'method_not_allowed',
      );
      const put = await fetch(`${h.url}/v1/responses/resp_x`, { method: 'PUT', headers: auth });
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('DELETE, GET, HEAD');
      const health = await fetch(`${h.url}/health`, { method: 'POST' });
      expect(health.status).toBe(405);
      // unknown paths stay 404, and the unauthenticated still get 401 first
      expect((await fetch(`${h.url}/v1/nope`, { headers: auth })).status).toBe(404);
      expect((await fetch(`${h.url}/v1/chat/completions`)).status).toBe(401);
    });

    it('CORS exposes the model, attempt, request id and rate-limit headers', async () => {
      const r = await postJson(
        `${h.url}/v1/chat/completions`,
        { model: 'sim-gpt', messages: [{ role: 'user', content: 'x' }] },
        { ...auth, origin: 'https://app.example.com' },
      );
      expect(r.status).toBe(200);
      const exposed = (r.headers.get('access-control-expose-headers') ?? '').toLowerCase();
      for (const h of ['x-switchboard-model', 'x-switchboard-attempt', 'x-request-id'])
        expect(exposed.split(',')).toContain(h);
      expect(r.headers.get('x-switchboard-model')).toBe('sim-gpt');
    });

    it('413 states the limit', async () => {
      const r = await postJson(`${h.url}/v1/chat/completions`, {
        model: 'sim-gpt',
        messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }],
      });
      expect(r.status).toBe(413);
      const e = ((await r.json()) as { error: { code: string; message: string } }).error;
      expect(e.code).toBe('payload_too_large');
      expect(e.message).toContain('1048576 bytes');
    });

    it('a report range error names the expected format', async () => {
      const r = await fetch(`${h.url}/usage/report?from=yesterday`, { headers: auth });
      expect(r.status).toBe(400);
      const e = ((await r.json()) as { error: { message: string; param: string } }).error;
      expect(e.param).toBe('from');
      expect(e.message).toContain('YYYY-MM-DD');
    });
  });
});
