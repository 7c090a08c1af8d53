import { once } from 'node:events';
import { readdir, readlink, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Principal } from '@switchboard/auth';
import { FilesService } from '@switchboard/datasources';
import { DATABASE, type Database } from '@switchboard/storage';
import { makePdf, makePng } from '../../../libs/datasources/test/fixtures';
import {
  auth,
  chatBody,
  postJson,
  readSse,
  startHarness,
  waitFor,
  type Harness,
} from './gateway.harness';

/**
 * GET /files/:id/content over HTTP against a real gateway (PGlite, fs blob
 * store): the bytes of a file to whoever may see it, as an attachment with a
 * safe file name; 404 for anyone else, for unknown ids and for a blob gone from
 * storage; images produced on a user's behalf download with their image type.
 */

const LIMIT = 32 * 1024 * 1024;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface FileBody {
  id: string;
  name: string;
  mime: string;
  size: number;
  status: string;
  contentUrl: string;
}

/** the exact name a client recovers from `filename*` (RFC 5987) */
function extendedName(header: string | null): string {
  const m = /filename\*=UTF-8''([^;\s]*)$/.exec(header ?? '');
  if (!m) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(m[1]);
}

/** paths this process holds open (the gateway runs in it; Linux: /proc/self/fd) */
async function openPaths(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd'))
    out.push(await readlink(`/proc/self/fd/${fd}`).catch(() => ''));
  return out;
}
const onLinux = process.platform === 'linux' ? it : it.skip;

describe('file content download', () => {
  let h: Harness;
  let db: Database;
  let files: FilesService;
  const keys = { alice: '', carol: '', bob: '' };

  const get = (path: string, key: string, method = 'GET') =>
    fetch(`${h.url}${path}`, { method, headers: bearer(key) });

  const upload = async (key: string, name: string, bytes: Buffer | string, type: string) => {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type }), name);
    const res = await fetch(`${h.url}/files`, { method: 'POST', headers: bearer(key), body: form });
    return { status: res.status, json: (await res.json()) as FileBody & { error?: unknown } };
  };

  const principal = (userId: string, accountIds: string[]): Principal => ({
    kind: 'api-key',
    userId,
    accountIds,
    scopes: ['files', 'chat'],
    limits: {},
  });

  const blobPath = async (id: string) => {
    const r = await db.query<{ blob_key: string }>('SELECT blob_key FROM files WHERE id = $1', [
      id,
    ]);
    return join(h.dataDir, 'blobs', ...r.rows[0].blob_key.split('/'));
  };

  const expectNotFound = async (res: Response) => {
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  };

  beforeAll(async () => {
    h = await startHarness({ UPLOAD_MAX_BYTES: String(LIMIT) });
    db = h.gateway.app.get<Database>(DATABASE);
    files = h.gateway.app.get(FilesService);
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${h.url}${path}`, {
        method,
        headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    for (const [id, users] of [
      ['acct-a', ['alice', 'carol']],
      ['acct-b', ['bob']],
    ] as const) {
      expect((await admin('POST', '/admin/accounts', { id, name: id })).status).toBe(201);
      for (const u of users)
        expect((await admin('PUT', `/admin/accounts/${id}/members/${u}`)).status).toBe(204);
    }
    for (const [user, account] of [
      ['alice', 'acct-a'],
      ['carol', 'acct-a'],
      ['bob', 'acct-b'],
    ] as const) {
      const r = await admin('POST', '/admin/keys', {
        ownerUserId: user,
        accountId: account,
        scopes: ['files', 'chat'],
      });
      expect(r.status).toBe(201);
      keys[user] = ((await r.json()) as { key: string }).key;
    }
  });
  afterAll(() => h?.close());

  it('downloads an upload byte for byte with the download headers', async () => {
    const pdf = await makePdf([['Quarterly figures of the Aldermoor water board.']]);
    const up = await upload(keys.alice, 'report.pdf', pdf, 'application/pdf');
    expect(up.status).toBe(201);
    expect(up.json.contentUrl).toBe(`/files/${up.json.id}/content`);

    const res = await get(up.json.contentUrl, keys.alice);
    expect(res.status).toBe(200);
    expect({
      type: res.headers.get('content-type'),
      length: res.headers.get('content-length'),
      disposition: res.headers.get('content-disposition'),
      nosniff: res.headers.get('x-content-type-options'),
      cache: res.headers.get('cache-control'),
      csp: res.headers.get('content-security-policy'),
    }).toEqual({
      type: 'application/pdf',
      length: String(pdf.length),
      disposition: `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
      nosniff: 'nosniff',
      cache: 'private, no-store',
      csp: "default-src 'none'; sandbox",
    });
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(Buffer.from(await res.arrayBuffer()).equals(pdf)).toBe(true);

    const csv = 'station,operator\nNorth Weir,Halvorsen\n';
    const c = await upload(keys.alice, 'stations.csv', csv, 'text/csv');
    const got = await get(`/files/${c.json.id}/content`, keys.alice);
    expect(got.headers.get('content-type')).toBe('text/csv');
    expect(await got.text()).toBe(csv);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const csv = 'a,b\n1,2\n';
    const { json } = await upload(keys.alice, 'small.csv', csv, 'text/csv');
    const res = await get(`/files/${json.id}/content`, keys.alice, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv');
    expect(res.headers.get('content-length')).toBe(String(csv.length));
    expect(res.headers.get('content-disposition')).toContain('filename="small.csv"');
    expect(await res.text()).toBe('');
    expect((await get(`/files/${json.id}/content`, keys.bob, 'HEAD')).status).toBe(404);
  });

  it('is 404 for whoever may not see the file, and downloads for a member once it is shared', async () => {
    const { json } = await upload(keys.alice, 'private.txt', 'Only for Alice.', 'text/plain');
    const path = `/files/${json.id}/content`;
    await expectNotFound(await get(path, keys.bob));
    await expectNotFound(await get(path, keys.carol));

    const share = await fetch(`${h.url}/files/${json.id}/sharing`, {
      method: 'PUT',
      headers: { ...bearer(keys.alice), 'content-type': 'application/json' },
      body: JSON.stringify({ accountIds: ['acct-a'] }),
    });
    expect(share.status).toBe(200);
    const asCarol = await get(path, keys.carol);
    expect(asCarol.status).toBe(200);
    expect(await asCarol.text()).toBe('Only for Alice.');
    await expectNotFound(await get(path, keys.bob));
  });

  it('is 404 for an unknown id and 400 for a malformed one', async () => {
    await expectNotFound(
      await get('/files/00000000-0000-4000-8000-000000000000/content', keys.alice),
    );
    const bad = await get(`/files/${'x'.repeat(201)}/content`, keys.alice);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    expect((await fetch(`${h.url}/files/x/content`)).status).toBe(401);
  });

  it('is 404, not 5xx, when the blob is gone from storage', async () => {
    const { json } = await upload(keys.alice, 'gone.txt', 'Soon gone.', 'text/plain');
    await rm(await blobPath(json.id));
    await expectNotFound(await get(`/files/${json.id}/content`, keys.alice));
    expect((await get(`/files/${json.id}/content`, keys.alice, 'HEAD')).status).toBe(404);
    // the metadata is still there: only the bytes are gone
    expect((await get(`/files/${json.id}`, keys.alice)).status).toBe(200);
  });

  it('gives odd file names a safe content-disposition that carries the exact name', async () => {
    // through multipart (the upload sanitises: last path part, no control characters)
    const up = await upload(keys.alice, '../../Zürich "Q3" 100% 📈.csv', 'a,b\n1,2\n', 'text/csv');
    expect(up.status).toBe(201);
    const viaUpload = await get(`/files/${up.json.id}/content`, keys.alice);
    expect(viaUpload.status).toBe(200);
    expect(extendedName(viaUpload.headers.get('content-disposition'))).toBe(up.json.name);
    expect(up.json.name).not.toContain('/');

    // a produced file's name, quotes and all
    const f = await files.saveGenerated(principal('alice', ['acct-a']), {
      name: '/mnt/data/../"Q3"; filename=evil.exe Zürich 📈.txt',
      data: Buffer.from('plain text'),
    });
    const res = await get(`/files/${f.id}/content`, keys.alice);
    expect(res.status).toBe(200);
    const header = res.headers.get('content-disposition')!;
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    expect(header).toBe(
      `attachment; filename="_Q3_; filename=evil.exe Z_rich __.txt"; ` +
        `filename*=UTF-8''%22Q3%22%3B%20filename%3Devil.exe%20Z%C3%BCrich%20%F0%9F%93%88.txt`,
    );
    expect(extendedName(header)).toBe(f.name);
  });

  it('downloads a generated PNG as image/png, refuses a PNG upload, and a chat over it is no 5xx', async () => {
    const png = makePng(8, 8);
    const f = await files.saveGenerated(principal('alice', ['acct-a']), {
      name: 'chart.png',
      data: png,
      tags: ['generated'],
    });
    const meta = await get(`/files/${f.id}`, keys.alice);
    expect(await meta.json()).toMatchObject({
      name: 'chart.png',
      mime: 'image/png',
      status: 'stored',
      tags: ['generated'],
      contentUrl: `/files/${f.id}/content`,
    });
    const res = await get(`/files/${f.id}/content`, keys.alice);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-length')).toBe(String(png.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
    await expectNotFound(await get(`/files/${f.id}/content`, keys.bob));

    const list = await get('/files?status=stored', keys.alice);
    expect(((await list.json()) as { data: FileBody[] }).data.map((x) => x.id)).toEqual([f.id]);

    const refused = await upload(keys.alice, 'chart.png', png, 'image/png');
    expect(refused.status).toBe(415);

    // an image as a chat data source is skipped with a warning, never an error
    const chat = await postJson(
      `${h.url}/chat`,
      chatBody('What does the chart show?', { dataSources: [f.id, 'tag://generated'] }),
      bearer(keys.alice),
    );
    expect(chat.status).toBe(200);
    const frames: Array<Record<string, unknown>> = [];
    for await (const fr of readSse(chat)) if (fr.data) frames.push(JSON.parse(fr.data));
    expect(frames.filter((fr) => fr.s === 'error')).toEqual([]);
    expect(
      frames.some(
        (fr) =>
          fr.s === 'meta' &&
          (fr.st as { warning?: boolean; message?: string } | undefined)?.warning === true &&
          String((fr.st as { message?: string }).message).includes(
            'is not a text document (kept for download only)',
          ),
      ),
    ).toBe(true);
    expect(frames.at(-1)).toMatchObject({ s: 'result', type: 'end' });
  });

  onLinux('releases the blob file when the client disconnects mid-download', async () => {
    const big = Buffer.concat([makePng(), Buffer.alloc(24 * 1024 * 1024, 7)]);
    const f = await files.saveGenerated(principal('alice', ['acct-a']), {
      name: 'big.png',
      data: big,
    });
    const path = await blobPath(f.id);
    const url = new URL(`/files/${f.id}/content`, h.url);
    const req = httpRequest(url, { headers: bearer(keys.alice) });
    req.end();
    const [res] = (await once(req, 'response')) as [Readable & { statusCode: number }];
    expect(res.statusCode).toBe(200);
    await once(res, 'data');
    // still streaming (back-pressure holds the rest): the file is open now...
    expect(await openPaths()).toContain(path);
    req.destroy();
    // ...and closed once the client is gone
    await waitFor(async () => !(await openPaths()).includes(path), 5000, 20);
    // the gateway is fine: the next download is whole
    const again = await get(`/files/${f.id}/content`, keys.alice);
    expect((await again.arrayBuffer()).byteLength).toBe(big.length);
  });
});
