import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createHash } from 'node:crypto';
import { Migrator, type PgliteDatabase } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { makeDocx, makePdf, makePng } from '../../test/fixtures';
import { user } from '../../test/principals';
import { FsBlobStore } from '../blob/fs.blob-store';
import { datasourceMigrations } from '../datasources.migrations';
import { JobQueue } from '../jobs/job-queue';
import { IMAGE_MIME, MIME } from './content-sniffer';
import { FilesService, sanitiseFilename } from './files.service';

const alice = user('alice', ['acme', 'labs']);
const bob = user('bob', ['acme']);
const carol = user('carol', ['other']);
const members: Record<string, string[]> = { alice: ['acme', 'labs'], bob: ['acme'] };

async function blobFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

describe('FilesService', () => {
  let db: PgliteDatabase;
  let dir: string;
  let blobs: FsBlobStore;
  let files: FilesService;
  const queued: string[] = [];

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate(datasourceMigrations);
  });
  afterAll(() => db.close());
  beforeEach(async () => {
    await db.query('DELETE FROM jobs');
    await db.query('DELETE FROM files');
    dir = await mkdtemp(join(tmpdir(), 'files-'));
    blobs = new FsBlobStore(dir);
    files = new FilesService(db, blobs, new JobQueue(db), {
      maxUploadBytes: 64 * 1024,
      isMember: (u, a) => (members[u] ?? []).includes(a),
      onQueued: (id) => queued.push(id),
    });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const upload = (
    p = alice,
    body: Buffer | string = 'Some notes about turbines.',
    filename = 'notes.txt',
  ) => files.upload(p, Readable.from([Buffer.from(body)]), { filename });

  it('stores an upload, sniffs its type from content and queues one ingestion job', async () => {
    const pdf = await makePdf([['hello']]);
    const f = await files.upload(alice, Readable.from([pdf]), {
      filename: 'report.txt',
      declaredType: 'text/plain',
    });
    expect(f).toMatchObject({
      name: 'report.txt',
      mime: MIME.pdf,
      size: pdf.length,
      status: 'queued',
      owned: true,
      tags: [],
    });
    expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
    const jobs = await db.query<{ kind: string; payload: { fileId: string } }>(
      'SELECT kind, payload FROM jobs',
    );
    expect(jobs.rows).toEqual([{ kind: 'ingest_file', payload: { fileId: f.id } }]);
    expect(queued).toContain(f.id);
    expect(await blobFiles(dir)).toHaveLength(1);
  });

  it('refuses an unsupported type with 415 and stores nothing', async () => {
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200, 0)]);
    await expect(upload(alice, exe, 'x.pdf')).rejects.toMatchObject({
      code: 'unsupported_media_type',
      status: 415,
    });
    expect(await blobFiles(dir)).toEqual([]);
    expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(0);
  });

  it('refuses an oversize upload with 413 and leaves no blob, row or job', async () => {
    const big = 'word '.repeat(40_000); // 200 kB > 64 KiB
    const chunks = Array.from({ length: 20 }, (_, i) =>
      Buffer.from(big.slice(i * 10_000, (i + 1) * 10_000)),
    );
    await expect(
      files.upload(alice, Readable.from(chunks), { filename: 'big.txt' }),
    ).rejects.toMatchObject({
      code: 'payload_too_large',
      status: 413,
    });
    expect(await blobFiles(dir)).toEqual([]);
    expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(0);
    expect((await db.query('SELECT 1 FROM jobs')).rowCount).toBe(0);
  });

  it('refuses an image upload with 415 (uploads stay documents only) and stores nothing', async () => {
    await expect(upload(alice, makePng(), 'chart.png')).rejects.toMatchObject({
      code: 'unsupported_media_type',
      status: 415,
    });
    expect(await blobFiles(dir)).toEqual([]);
    expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(0);
  });

  describe('saveGenerated', () => {
    const jobCount = async () => (await db.query('SELECT 1 FROM jobs')).rowCount;

    it('stores a PNG for the principal as `stored`, not queued for ingestion', async () => {
      const png = makePng(4, 3);
      queued.length = 0;
      const f = await files.saveGenerated(alice, {
        name: 'out/chart.png',
        data: new Uint8Array(png),
        declaredType: 'image/png',
      });
      expect(f).toMatchObject({
        ownerUserId: 'alice',
        owned: true,
        name: 'chart.png',
        mime: IMAGE_MIME.png,
        size: png.length,
        sha256: createHash('sha256').update(png).digest('hex'),
        status: 'stored',
        error: null,
        tags: [],
      });
      expect(await jobCount()).toBe(0);
      expect(queued).toEqual([]);
      expect(await blobFiles(dir)).toHaveLength(1);
      expect((await files.get(alice, f.id)).status).toBe('stored');
      expect((await files.list(alice, { status: 'stored' })).map((x) => x.id)).toEqual([f.id]);
      const { body } = await files.openContent(alice, f.id);
      expect((await buffer(body)).equals(png)).toBe(true);
    });

    it('stores a CSV typed by content and queues its ingestion like an upload', async () => {
      queued.length = 0;
      const csv = 'month,revenue\njan,10\nfeb,12\n';
      const f = await files.saveGenerated(bob, {
        name: 'revenue',
        data: Buffer.from(csv),
        tags: ['reports', ' code '],
      });
      expect(f).toMatchObject({
        ownerUserId: 'bob',
        name: 'revenue',
        mime: MIME.csv,
        size: csv.length,
        status: 'queued',
        tags: ['code', 'reports'],
      });
      const jobs = await db.query<{ kind: string; payload: { fileId: string } }>(
        'SELECT kind, payload FROM jobs',
      );
      expect(jobs.rows).toEqual([{ kind: 'ingest_file', payload: { fileId: f.id } }]);
      expect(queued).toEqual([f.id]);
      expect(await files.listByTags(bob, ['reports'])).toHaveLength(1);
      await expect(files.get(carol, f.id)).rejects.toMatchObject({ code: 'not_found' });
    });

    it('reads only its own bytes from a view of a larger buffer', async () => {
      const backing = Buffer.from('XXXX{"a": 1}YYYY');
      const f = await files.saveGenerated(alice, {
        name: 'a.json',
        data: new Uint8Array(backing.buffer, backing.byteOffset + 4, 8),
      });
      expect(f).toMatchObject({ mime: MIME.json, size: 8 });
      expect((await buffer((await files.openContent(alice, f.id)).body)).toString()).toBe(
        '{"a": 1}',
      );
    });

    it('refuses a file over the size limit with 413 and leaves no blob, row or job', async () => {
      await expect(
        files.saveGenerated(alice, {
          name: 'big.png',
          data: Buffer.concat([makePng(), Buffer.alloc(64 * 1024)]),
        }),
      ).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });
      expect(await blobFiles(dir)).toEqual([]);
      expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(0);
      expect(await jobCount()).toBe(0);
    });

    it('accepts exactly the size limit', async () => {
      const f = await files.saveGenerated(alice, {
        name: 'limit.png',
        data: Buffer.concat([makePng(), Buffer.alloc(64 * 1024 - makePng().length)]),
      });
      expect(f).toMatchObject({ size: 64 * 1024, status: 'stored' });
    });

    it('refuses an unknown binary with 415 and stores nothing', async () => {
      const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200, 0)]);
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>');
      for (const [name, data] of [
        ['tool.png', exe],
        ['zeros.bin', Buffer.alloc(100, 0)],
      ] as const)
        await expect(
          files.saveGenerated(alice, { name, data, declaredType: 'image/png' }),
        ).rejects.toMatchObject({ code: 'unsupported_media_type', status: 415 });
      // SVG is text to the sniffer, never an image: served as text/plain, it cannot run script
      expect((await files.saveGenerated(alice, { name: 'chart.svg', data: svg })).mime).toBe(
        MIME.text,
      );
      expect(await blobFiles(dir)).toHaveLength(1);
      expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(1);
    });

    it('writes row and job in one transaction: when queueing fails, no row and no blob remain', async () => {
      const failingQueue = {
        enqueue: () => Promise.reject(new Error('queue unavailable')),
      } as unknown as JobQueue;
      const broken = new FilesService(db, blobs, failingQueue, { maxUploadBytes: 64 * 1024 });
      await expect(
        broken.saveGenerated(alice, { name: 'a.csv', data: Buffer.from('a,b\n1,2\n') }),
      ).rejects.toThrow('queue unavailable');
      expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(0);
      expect(await blobFiles(dir)).toEqual([]);
    });

    it('validates tags like setTags before storing anything', async () => {
      for (const tags of [['../x'], Array.from({ length: 51 }, (_, i) => `t${i}`)])
        await expect(
          files.saveGenerated(alice, { name: 'c.png', data: makePng(), tags }),
        ).rejects.toMatchObject({ code: 'invalid_request', extra: { param: 'tags' } });
      expect(await blobFiles(dir)).toEqual([]);
      expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(0);
    });

    it('sanitises the name: no path, no control characters', async () => {
      const f = await files.saveGenerated(alice, {
        name: '/mnt/data/../../etc/pa\u0000sswd.txt',
        data: Buffer.from('hello'),
      });
      expect(f.name).toBe('passwd.txt');
    });
  });

  describe('openContent', () => {
    it('streams the bytes to the owner and to members of an account it is shared with', async () => {
      const body = 'Some notes about turbines.';
      const f = await upload(alice, body);
      expect((await buffer((await files.openContent(alice, f.id)).body)).toString()).toBe(body);
      await expect(files.openContent(bob, f.id)).rejects.toMatchObject({ code: 'not_found' });
      await files.share(alice, f.id, ['acme']);
      const shared = await files.openContent(bob, f.id);
      expect(shared.file).toMatchObject({ id: f.id, owned: false, mime: MIME.text });
      expect((await buffer(shared.body)).toString()).toBe(body);
      await expect(files.openContent(carol, f.id)).rejects.toMatchObject({
        code: 'not_found',
        status: 404,
      });
      await expect(files.openContent(alice, 'no-such-id')).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    it('is not_found when the blob is gone from storage', async () => {
      const f = await upload(alice);
      const { rows } = await db.query<{ blob_key: string }>(
        'SELECT blob_key FROM files WHERE id = $1',
        [f.id],
      );
      await blobs.delete(rows[0].blob_key);
      await expect(files.openContent(alice, f.id)).rejects.toMatchObject({
        code: 'not_found',
        status: 404,
        message: 'File not found.',
      });
    });
  });

  it('sanitises file names (display only; never a path)', () => {
    expect(sanitiseFilename('../../etc/passwd')).toBe('passwd');
    expect(sanitiseFilename('C:\\Users\\me\\a\u0000b.pdf')).toBe('ab.pdf');
    expect(sanitiseFilename('')).toBe('untitled');
  });

  it("hides another user's private file from list, get, delete, tags and share (not_found)", async () => {
    const f = await upload(alice);
    expect(await files.list(carol)).toEqual([]);
    for (const attempt of [
      () => files.get(carol, f.id),
      () => files.delete(carol, f.id),
      () => files.setTags(carol, f.id, ['x']),
      () => files.share(carol, f.id, []),
    ])
      await expect(attempt()).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(files.get(carol, 'no-such-id')).rejects.toMatchObject({ code: 'not_found' });
    expect(await files.getMany(carol, [f.id])).toEqual([]);
    expect(await files.listTags(carol)).toEqual([]);
    expect((await files.get(alice, f.id)).id).toBe(f.id);
  });

  it('shares with an account of the owner: its members read, only the owner changes', async () => {
    const f = await upload(alice);
    await expect(files.share(alice, f.id, ['other'])).rejects.toMatchObject({ code: 'forbidden' });
    expect(await files.list(bob)).toEqual([]);
    const shared = await files.share(alice, f.id, ['acme']);
    expect(shared.sharedAccountIds).toEqual(['acme']);
    expect((await files.list(bob)).map((x) => [x.id, x.owned])).toEqual([[f.id, false]]);
    expect((await files.get(bob, f.id)).name).toBe('notes.txt');
    await expect(files.delete(bob, f.id)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(files.setTags(bob, f.id, ['mine'])).rejects.toMatchObject({ code: 'forbidden' });
    await expect(files.get(carol, f.id)).rejects.toMatchObject({ code: 'not_found' });
    await files.share(alice, f.id, []);
    await expect(files.get(bob, f.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('sets, validates and lists tags of visible files', async () => {
    const a = await upload(alice);
    const b = await upload(alice, await makeDocx([{ text: 'x' }]), 'b.docx');
    expect((await files.setTags(alice, a.id, ['policies', ' hr ', 'policies'])).tags).toEqual([
      'hr',
      'policies',
    ]);
    await files.setTags(alice, b.id, ['policies']);
    await expect(files.setTags(alice, a.id, ['../x'])).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(
      files.setTags(
        alice,
        a.id,
        Array.from({ length: 51 }, (_, i) => `t${i}`),
      ),
    ).rejects.toMatchObject({
      code: 'invalid_request',
    });
    expect(await files.listTags(alice)).toEqual([
      { tag: 'hr', files: 1 },
      { tag: 'policies', files: 2 },
    ]);
    expect((await files.listByTags(alice, ['hr'])).map((f) => f.id)).toEqual([a.id]);
    expect(await files.listByTags(carol, ['policies'])).toEqual([]);
    expect((await files.list(alice, { tag: 'policies' })).length).toBe(2);
    const page1 = await files.list(alice, { limit: 1 });
    const page2 = await files.list(alice, { limit: 1, offset: 1 });
    expect([...page1, ...page2].map((f) => f.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('stores extracted text and reads it back only for ready files the caller may see', async () => {
    const mine = await upload(alice, 'a', 'mine.txt');
    const shared = await upload(alice, 'b', 'shared.txt');
    const pending = await upload(alice, 'c', 'pending.txt');
    await files.share(alice, shared.id, ['acme']);
    const seg = (text: string) => [{ text, location: { heading: 'H' } }];
    for (const [f, text] of [
      [mine, 'mine'],
      [shared, 'shared'],
      [pending, 'pending'],
    ] as const) {
      await files.saveText(f.id, {
        segments: seg(text),
        chars: text.length,
        tokens: 1,
        pages: null,
      });
    }
    // a second save replaces the text instead of failing on the primary key
    await files.saveText(mine.id, { segments: seg('mine v2'), chars: 7, tokens: 2, pages: 3 });
    for (const f of [mine, shared]) await files.setStatus(f.id, 'ready');
    const ids = [mine.id, shared.id, pending.id, 'file_forged'];

    expect(await files.readableTexts(alice, ids)).toEqual(
      new Map([
        [mine.id, seg('mine v2')],
        [shared.id, seg('shared')],
      ]),
    );
    expect(await files.readableTexts(bob, ids)).toEqual(new Map([[shared.id, seg('shared')]]));
    expect(await files.readableTexts(carol, ids)).toEqual(new Map());
    expect(await files.readableTexts(alice, [])).toEqual(new Map());
  });

  it('delete removes the row, its extracted text and its blob', async () => {
    const f = await upload(alice);
    await db.query(
      `INSERT INTO file_texts (file_id, segments, chars, tokens) VALUES ($1, '[]', 0, 0)`,
      [f.id],
    );
    await files.delete(alice, f.id);
    expect((await db.query('SELECT 1 FROM files')).rowCount).toBe(0);
    expect((await db.query('SELECT 1 FROM file_texts')).rowCount).toBe(0);
    expect(await blobFiles(dir)).toEqual([]);
    await expect(files.get(alice, f.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});
