import { request as httpRequest } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Principal } from '@switchboard/auth';
import { RetrievalService } from '@switchboard/rag';
import { DATABASE, type Database } from '@switchboard/storage';
import { makeDocx, makeEncryptedPdf, makePdf } from '../../../libs/datasources/test/fixtures';
import { auth, startHarness, waitFor, type Harness } from './gateway.harness';

/**
 * The files API over HTTP against a real gateway (PGlite, fs blob store, the
 * ingestion worker, simulator embeddings): uploads are streamed, typed by
 * content and size-capped; ingestion ends `ready` or `failed` with a reason;
 * another user's private file does not exist for them.
 */

const LIMIT = 256 * 1024;

/** the pages a chunk location covers (a chunk may span a page break) */
const pagesOf = (loc: unknown): number[] => {
  const { page, pageEnd } = (loc ?? {}) as { page?: number; pageEnd?: number };
  if (page === undefined) return [];
  return Array.from({ length: (pageEnd ?? page) - page + 1 }, (_, i) => page + i);
};
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface FileBody {
  id: string;
  name: string;
  mime: string;
  size: number;
  status: string;
  error: string | null;
  tags: string[];
  owned: boolean;
  sharedAccountIds: string[];
}

interface ApiResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  text: string;
  json: T;
}

describe('files API', () => {
  let h: Harness;
  let db: Database;
  let aliceKey: string;
  let bobKey: string;
  let carolKey: string;
  let chatOnlyKey: string;

  const api = async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = auth,
  ): Promise<ApiResult<T>> => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : null };
  };

  const upload = async (
    key: string,
    name: string,
    bytes: Buffer | string,
    type = 'application/octet-stream',
    field = 'file',
  ): Promise<ApiResult<FileBody & { error: { code: string; message: string } }>> => {
    const form = new FormData();
    form.append(field, new Blob([bytes], { type }), name);
    const res = await fetch(`${h.url}/files`, {
      method: 'POST',
      headers: bearer(key),
      body: form,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : null };
  };

  const settled = async (key: string, id: string): Promise<FileBody> => {
    let last: FileBody | undefined;
    await waitFor(
      async () => {
        const r = await api<FileBody>('GET', `/files/${id}`, undefined, bearer(key));
        expect(r.status).toBe(200);
        last = r.json;
        return last.status === 'ready' || last.status === 'failed';
      },
      20_000,
      50,
    );
    return last!;
  };

  /** every blob file under DATA_DIR/blobs, temp files included */
  const blobFiles = async (): Promise<string[]> => {
    const out: string[] = [];
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name));
        else out.push(join(dir, e.name));
      }
    };
    await walk(join(h.dataDir, 'blobs'));
    return out.sort();
  };
  const fileRows = async () =>
    Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM files')).rows[0].n);

  const principal = (userId: string, accountIds: string[]): Principal => ({
    kind: 'api-key',
    userId,
    accountIds,
    scopes: ['files'],
    limits: {},
  });

  beforeAll(async () => {
    h = await startHarness({
      EMBEDDING_MODEL: 'sim-embed',
      EMBEDDING_DIMENSIONS: '256',
      UPLOAD_MAX_BYTES: String(LIMIT),
    });
    db = h.gateway.app.get<Database>(DATABASE);
    for (const [id, users] of [
      ['acct-a', ['alice', 'carol']],
      ['acct-b', ['bob']],
    ] as const) {
      expect((await api('POST', '/admin/accounts', { id, name: id })).status).toBe(201);
      for (const u of users)
        expect((await api('PUT', `/admin/accounts/${id}/members/${u}`)).status).toBe(204);
    }
    const issue = async (ownerUserId: string, accountId: string, scopes: string[]) => {
      const r = await api<{ key: string }>('POST', '/admin/keys', {
        ownerUserId,
        accountId,
        scopes,
      });
      expect(r.status).toBe(201);
      return r.json.key;
    };
    aliceKey = await issue('alice', 'acct-a', ['files', 'chat']);
    carolKey = await issue('carol', 'acct-a', ['files']);
    bobKey = await issue('bob', 'acct-b', ['files']);
    chatOnlyKey = await issue('alice', 'acct-a', ['chat']);
  });
  afterAll(() => h?.close());

  describe('ingestion of the supported formats', () => {
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      const pdf = await makePdf([
        ['Quarterly report of the Aldermoor water board.'],
        ['The Kestrel reservoir holds 41 million cubic metres after the spring refill.'],
      ]);
      const docx = await makeDocx([
        { text: 'Maintenance', style: 'Heading1' },
        { text: 'The Brindle pumping station is serviced every second Tuesday.' },
      ]);
      const csv = 'station,operator\nNorth Weir,Halvorsen\nMarrow Lock,Okonkwo-Pike\n';
      const html =
        '<!doctype html><html><head><title>Notice</title><script>var leaked = "script text";</script>' +
        '<style>p{color:red}</style></head><body><h1>Notice</h1><p>The Quillon ferry runs hourly from the east pier.</p></body></html>';
      for (const [kind, name, bytes, type] of [
        ['pdf', 'report.pdf', pdf, 'application/pdf'],
        ['docx', 'maintenance.docx', docx, 'application/octet-stream'],
        ['csv', 'stations.csv', csv, 'text/csv'],
        ['html', 'notice.html', html, 'text/html'],
      ] as const) {
        const r = await upload(aliceKey, name, bytes, type);
        expect(r.status).toBe(201);
        expect(r.json).toMatchObject({ name, status: 'queued', owned: true, tags: [] });
        ids[kind] = r.json.id;
      }
    });

    it('uploads PDF, DOCX, CSV and HTML, typed by content, and each ends ready', async () => {
      const expected: Record<string, string> = {
        pdf: 'application/pdf',
        docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        csv: 'text/csv',
        html: 'text/html',
      };
      for (const [kind, id] of Object.entries(ids)) {
        const f = await settled(aliceKey, id);
        expect({ kind, status: f.status, error: f.error, mime: f.mime }).toEqual({
          kind,
          status: 'ready',
          error: null,
          mime: expected[kind],
        });
        expect(JSON.stringify(f)).not.toMatch(/blob_?key/i);
      }
    });

    it('indexes chunks with their locations (PDF page, CSV row) and vectors', async () => {
      for (const id of Object.values(ids)) await settled(aliceKey, id);
      const rows = await db.query<{ file_id: string; text: string; location: unknown; v: boolean }>(
        'SELECT file_id, text, location, embedding IS NOT NULL AS v FROM chunks ORDER BY file_id, ord',
      );
      const of = (id: string) => rows.rows.filter((r) => r.file_id === id);
      const kestrel = of(ids.pdf).find((r) => r.text.includes('Kestrel'));
      expect(pagesOf(kestrel?.location)).toContain(2);
      const marrow = of(ids.csv).find((r) => r.text.includes('Marrow Lock'));
      expect(marrow?.location).toMatchObject({ row: expect.any(Number) });
      const html = of(ids.html)
        .map((r) => r.text)
        .join('\n');
      expect(html).toContain('Quillon ferry');
      expect(html).not.toContain('script text');
      expect(rows.rows.length).toBeGreaterThanOrEqual(4);
      expect(rows.rows.every((r) => r.v)).toBe(true);
    });

    it('retrieval (hybrid, as reported by /ready) finds the page, and only for the owner', async () => {
      const ready = await api<{ info: Record<string, Record<string, unknown>> }>('GET', '/ready');
      expect(ready.status).toBe(200);
      expect(ready.json.info.retrieval).toMatchObject({ status: 'up', mode: 'hybrid' });
      const retrieval = h.gateway.app.get(RetrievalService);
      const hits = await retrieval.search(principal('alice', ['acct-a']), 'Kestrel reservoir');
      expect(hits[0].fileId).toBe(ids.pdf);
      expect(pagesOf(hits[0].location)).toContain(2);
      expect(await retrieval.search(principal('bob', ['acct-b']), 'Kestrel reservoir')).toEqual([]);
    });

    it('lists the caller’s files newest first, paged', async () => {
      const page1 = await api<{ data: FileBody[]; nextOffset: number | null }>(
        'GET',
        '/files?limit=3',
        undefined,
        bearer(aliceKey),
      );
      expect(page1.status).toBe(200);
      expect(page1.json.data).toHaveLength(3);
      expect(page1.json.nextOffset).toBe(3);
      const page2 = await api<{ data: FileBody[]; nextOffset: number | null }>(
        'GET',
        '/files?limit=3&offset=3',
        undefined,
        bearer(aliceKey),
      );
      const seen = [...page1.json.data, ...page2.json.data].map((f) => f.id);
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of Object.values(ids)) expect(seen).toContain(id);
      const bad = await api('GET', '/files?limit=0', undefined, bearer(aliceKey));
      expect(bad.status).toBe(400);
      expect(bad.json).toMatchObject({ error: { code: 'invalid_request' } });
    });

    it('tags files; GET /tags counts the tags the caller can see', async () => {
      const t1 = await api<FileBody>(
        'PUT',
        `/files/${ids.pdf}/tags`,
        { tags: ['water', 'reports'] },
        bearer(aliceKey),
      );
      expect(t1.status).toBe(200);
      expect(t1.json.tags).toEqual(['reports', 'water']);
      expect(
        (await api('PUT', `/files/${ids.csv}/tags`, { tags: ['water'] }, bearer(aliceKey))).status,
      ).toBe(200);
      const tags = await api('GET', '/tags', undefined, bearer(aliceKey));
      expect(tags.json).toEqual({
        data: [
          { tag: 'reports', files: 1 },
          { tag: 'water', files: 2 },
        ],
      });
      const byTag = await api<{ data: FileBody[] }>(
        'GET',
        '/files?tag=water',
        undefined,
        bearer(aliceKey),
      );
      expect(byTag.json.data.map((f) => f.id).sort()).toEqual([ids.pdf, ids.csv].sort());
      const invalid = await api(
        'PUT',
        `/files/${ids.pdf}/tags`,
        { tags: ['../etc'] },
        bearer(aliceKey),
      );
      expect(invalid.status).toBe(400);
      expect(invalid.json).toMatchObject({ error: { code: 'invalid_request', param: 'tags' } });
    });

    it('user B cannot list, get, delete, tag or share A’s private file (404, as if absent)', async () => {
      const id = ids.docx;
      const list = await api<{ data: FileBody[] }>('GET', '/files', undefined, bearer(bobKey));
      expect(list.status).toBe(200);
      expect(list.json.data).toEqual([]);
      const absent = await api<{ error: Record<string, unknown> }>(
        'GET',
        '/files/00000000-0000-4000-8000-000000000000',
        undefined,
        bearer(bobKey),
      );
      expect(absent.status).toBe(404);
      for (const [method, path, body] of [
        ['GET', `/files/${id}`, undefined],
        ['DELETE', `/files/${id}`, undefined],
        ['PUT', `/files/${id}/tags`, { tags: ['mine'] }],
        ['PUT', `/files/${id}/sharing`, { accountIds: ['acct-b'] }],
      ] as const) {
        const r = await api(method, path, body, bearer(bobKey));
        expect({ method, path, status: r.status, error: r.json }).toEqual({
          method,
          path,
          status: 404,
          error: { error: { ...absent.json.error, requestId: expect.any(String) } },
        });
      }
      expect((await api('GET', '/tags', undefined, bearer(bobKey))).json).toEqual({ data: [] });
      expect(
        (await api<FileBody>('GET', `/files/${id}`, undefined, bearer(aliceKey))).json,
      ).toMatchObject({
        status: 'ready',
        tags: [],
      });
    });

    it('sharing with the owner’s account lets its members read, not change; never other accounts', async () => {
      const id = ids.html;
      expect((await api('GET', `/files/${id}`, undefined, bearer(carolKey))).status).toBe(404);
      const notMine = await api(
        'PUT',
        `/files/${id}/sharing`,
        { accountIds: ['acct-b'] },
        bearer(aliceKey),
      );
      expect(notMine.status).toBe(403);
      expect(notMine.json).toMatchObject({ error: { code: 'forbidden' } });
      const shared = await api<FileBody>(
        'PUT',
        `/files/${id}/sharing`,
        { accountIds: ['acct-a'] },
        bearer(aliceKey),
      );
      expect(shared.status).toBe(200);
      expect(shared.json.sharedAccountIds).toEqual(['acct-a']);
      const asCarol = await api<FileBody>('GET', `/files/${id}`, undefined, bearer(carolKey));
      expect(asCarol.status).toBe(200);
      expect(asCarol.json).toMatchObject({ id, owned: false });
      const del = await api('DELETE', `/files/${id}`, undefined, bearer(carolKey));
      expect(del.status).toBe(403);
      expect((await api('GET', `/files/${id}`, undefined, bearer(bobKey))).status).toBe(404);
      expect(
        (await api('PUT', `/files/${id}/sharing`, { accountIds: [] }, bearer(aliceKey))).status,
      ).toBe(200);
      expect((await api('GET', `/files/${id}`, undefined, bearer(carolKey))).status).toBe(404);
    });

    it('DELETE removes the file, its chunks and its blob (204), then it is 404', async () => {
      const r = await upload(
        aliceKey,
        'gone.txt',
        'The Tamsin bridge closes at dusk.',
        'text/plain',
      );
      expect(r.status).toBe(201);
      const f = await settled(aliceKey, r.json.id);
      expect(f.status).toBe('ready');
      const blobsBefore = await blobFiles();
      const del = await api('DELETE', `/files/${f.id}`, undefined, bearer(aliceKey));
      expect(del.status).toBe(204);
      expect(del.text).toBe('');
      expect((await api('GET', `/files/${f.id}`, undefined, bearer(aliceKey))).status).toBe(404);
      expect((await api('DELETE', `/files/${f.id}`, undefined, bearer(aliceKey))).status).toBe(404);
      const chunks = await db.query('SELECT 1 FROM chunks WHERE file_id = $1', [f.id]);
      expect(chunks.rowCount).toBe(0);
      expect((await blobFiles()).length).toBe(blobsBefore.length - 1);
    });
  });

  describe('refused uploads leave nothing behind', () => {
    let before: { rows: number; blobs: string[] };
    beforeEach(async () => {
      before = { rows: await fileRows(), blobs: await blobFiles() };
    });
    const nothingLeft = async () => {
      // the store cleans up asynchronously of the response only for aborted clients
      await waitFor(async () => (await blobFiles()).length === before.blobs.length, 10_000, 20);
      expect(await fileRows()).toBe(before.rows);
      expect(await blobFiles()).toEqual(before.blobs);
    };

    it('a file over UPLOAD_MAX_BYTES is 413 payload_too_large', async () => {
      const big = 'The Orrin canal is long. '.repeat(Math.ceil((LIMIT + 10_000) / 25));
      const r = await upload(aliceKey, 'big.txt', big, 'text/plain');
      expect(r.status).toBe(413);
      expect(r.json).toMatchObject({ error: { code: 'payload_too_large' } });
      expect(r.json.error.message).toContain(String(LIMIT));
      await nothingLeft();
    });

    it('a body whose declared length is far over the limit is 413 before anything is stored', async () => {
      const huge = Buffer.alloc(LIMIT + 1024 * 1024 + 10_000, 0x61);
      const r = await upload(aliceKey, 'huge.txt', huge, 'text/plain');
      expect(r.status).toBe(413);
      expect(r.json).toMatchObject({ error: { code: 'payload_too_large' } });
      await nothingLeft();
    });

    it('a PNG, a ZIP and an executable are 415 unsupported_media_type, whatever their names', async () => {
      const png = Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        Buffer.alloc(2000, 7),
      ]);
      const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(500, 1)]);
      const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(500, 0)]);
      for (const [name, bytes, type] of [
        ['diagram.png', png, 'image/png'],
        ['report.pdf', png, 'application/pdf'],
        ['archive.docx', zip, 'application/zip'],
        ['notes.txt', elf, 'text/plain'],
      ] as const) {
        const r = await upload(aliceKey, name, bytes, type);
        expect({ name, status: r.status, code: r.json.error?.code }).toEqual({
          name,
          status: 415,
          code: 'unsupported_media_type',
        });
      }
      await nothingLeft();
    });

    it('a body that is not multipart is 415; a form without a `file` field is 400', async () => {
      const json = await api('POST', '/files', { name: 'x' }, bearer(aliceKey));
      expect(json.status).toBe(415);
      expect(json.json).toMatchObject({ error: { code: 'unsupported_media_type' } });
      const raw = await fetch(`${h.url}/files`, {
        method: 'POST',
        headers: { ...bearer(aliceKey), 'content-type': 'application/pdf' },
        body: '%PDF-1.4',
      });
      expect(raw.status).toBe(415);
      const wrongField = await upload(aliceKey, 'a.txt', 'hello there', 'text/plain', 'document');
      expect(wrongField.status).toBe(400);
      expect(wrongField.json).toMatchObject({ error: { code: 'invalid_request' } });
      const form = new FormData();
      form.append('note', 'no file here');
      const noFile = await fetch(`${h.url}/files`, {
        method: 'POST',
        headers: bearer(aliceKey),
        body: form,
      });
      expect(noFile.status).toBe(400);
      await nothingLeft();
    });

    it('a client that aborts mid-upload leaves no file, row or temp blob', async () => {
      const boundary = 'sbBoundary7MA4YWxkTrZu0gW';
      const head =
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.txt"\r\n` +
        'Content-Type: text/plain\r\n\r\n';
      let partSeen = false;
      await new Promise<void>((resolve) => {
        const req = httpRequest(`${h.url}/files`, {
          method: 'POST',
          headers: {
            ...bearer(aliceKey),
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(LIMIT - 1000),
          },
        });
        req.on('error', () => undefined);
        req.write(head);
        req.write('The Wendell lighthouse keeps watch. '.repeat(2000));
        // abort only once the server is writing the blob (its temp file exists)
        void waitFor(async () => (await blobFiles()).some((f) => f.endsWith('.part')), 5000, 10)
          .then(() => (partSeen = true))
          .catch(() => undefined)
          .then(() => {
            req.destroy();
            resolve();
          });
      });
      expect(partSeen).toBe(true);
      await nothingLeft();
    });
  });

  it('a corrupt PDF ends failed with a reason; the dead job is visible to admins and can be retried', async () => {
    const good = await makePdf([['The Hollin viaduct was completed in spring.']]);
    const corrupt = Buffer.concat([good.subarray(0, 60), Buffer.alloc(400, 0x20)]);
    const up = await upload(aliceKey, 'broken.pdf', corrupt, 'application/pdf');
    expect(up.status).toBe(201);
    const f = await settled(aliceKey, up.json.id);
    expect(f.status).toBe('failed');
    expect(f.error).toEqual(expect.stringMatching(/\S/));

    const enc = await upload(aliceKey, 'locked.pdf', makeEncryptedPdf(), 'application/pdf');
    const fe = await settled(aliceKey, enc.json.id);
    expect(fe).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/password|encrypt/i),
    });

    const dead = await api<{
      data: Array<{ id: string; kind: string; payload: { fileId: string }; lastError: string }>;
    }>('GET', '/admin/jobs/dead');
    expect(dead.status).toBe(200);
    const job = dead.json.data.find((j) => j.payload.fileId === f.id);
    expect(job).toMatchObject({ kind: 'ingest_file', lastError: expect.any(String) });
    expect((await api('GET', '/admin/jobs/dead', undefined, bearer(aliceKey))).status).toBe(403);

    const retry = await api('POST', `/admin/jobs/${job!.id}/retry`, undefined);
    expect(retry.status).toBe(200);
    expect(retry.json).toMatchObject({ id: job!.id, status: 'queued', attempts: 0 });
    // the retry runs and fails again: corrupt input is dead-lettered at once
    const again = await settled(aliceKey, f.id);
    expect(again.status).toBe('failed');
    const deadAgain = await api<{ data: Array<{ id: string }> }>('GET', '/admin/jobs/dead');
    expect(deadAgain.json.data.map((j) => j.id)).toContain(job!.id);
    expect((await api('POST', '/admin/jobs/no-such-job/retry')).status).toBe(404);
  });

  it('needs the files scope (403 insufficient_scope) and credentials (401)', async () => {
    const r = await api('GET', '/files', undefined, bearer(chatOnlyKey));
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ error: { code: 'insufficient_scope' } });
    const up = await upload(chatOnlyKey, 'a.txt', 'hello', 'text/plain');
    expect(up.status).toBe(403);
    expect((await api('GET', '/tags', undefined, {})).status).toBe(401);
  });

  it('admins register, list and remove external sources; bad input is 400, others 403', async () => {
    const src = {
      name: 'weather',
      urlTemplate: 'https://api.example.com/search?q={query}',
      headers: { authorization: 'Bearer ${secret:SOURCE_SECRET_WEATHER}' },
    };
    const created = await api('POST', '/admin/sources', src);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'weather', method: 'GET', enabled: true });
    expect((await api('POST', '/admin/sources', src)).status).toBe(400);
    const bad = await api('POST', '/admin/sources', { ...src, name: 'x2', urlTemplate: 'ftp://x' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: 'invalid_request', param: 'urlTemplate' } });
    const list = await api<{ data: Array<{ name: string }> }>('GET', '/admin/sources');
    expect(list.json.data.map((s) => s.name)).toEqual(['weather']);
    expect((await api('GET', '/admin/sources', undefined, bearer(aliceKey))).status).toBe(403);
    expect((await api('DELETE', '/admin/sources/weather')).status).toBe(204);
    expect((await api('DELETE', '/admin/sources/weather')).status).toBe(404);
  });
});
