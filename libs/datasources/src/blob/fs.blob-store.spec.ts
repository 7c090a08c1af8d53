import { mkdtemp, readdir, readlink, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer, text } from 'node:stream/consumers';
import { createHash } from 'node:crypto';
import { AppError } from '@switchboard/common';
import { FsBlobStore } from './fs.blob-store';

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

/** paths this process holds open (Linux: /proc/self/fd) */
async function openPaths(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd'))
    out.push(await readlink(`/proc/self/fd/${fd}`).catch(() => ''));
  return out;
}
const onLinux = process.platform === 'linux' ? it : it.skip;

function slowStream(chunks: number, size: number): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i++ < chunks) setImmediate(() => this.push(Buffer.alloc(size, 97)));
      else this.push(null);
    },
  });
}

describe('FsBlobStore', () => {
  let root: string;
  let store: FsBlobStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'blobs-'));
    store = new FsBlobStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('stores a stream under a generated key and returns its size and sha256', async () => {
    const body = 'hello blob';
    const put = await store.put(Readable.from([Buffer.from(body)]));
    expect(put.key).toMatch(/^[0-9a-f]{2}\/[0-9a-f-]{36}$/);
    expect(put.size).toBe(10);
    expect(put.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(await text(await store.get(put.key))).toBe(body);
    await store.delete(put.key);
    await expect(store.get(put.key)).rejects.toMatchObject({ code: 'not_found' });
    await store.delete(put.key); // idempotent
  });

  it('aborts at the byte limit, deletes the partial write and stops reading the source', async () => {
    const source = slowStream(100, 1024);
    const err = await store.put(source, { maxBytes: 10 * 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('payload_too_large');
    expect(source.destroyed).toBe(true);
    expect(await listAll(root)).toEqual([]);
  });

  it('leaves nothing behind when the source stream fails midway', async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(100));
    setImmediate(() => source.destroy(new Error('client went away')));
    await expect(store.put(source)).rejects.toThrow('client went away');
    expect(await listAll(root)).toEqual([]);
  });

  it('accepts exactly the limit', async () => {
    const put = await store.put(Readable.from([Buffer.alloc(1024)]), { maxBytes: 1024 });
    expect(put.size).toBe(1024);
  });

  it('refuses keys it did not generate (no path traversal)', async () => {
    await writeFile(join(root, 'secret'), 'x');
    for (const key of ['../secret', 'secret', '/etc/passwd', 'ab/../../secret', 'ab/cd']) {
      await expect(store.get(key)).rejects.toMatchObject({ code: 'not_found' });
      await expect(store.delete(key)).rejects.toMatchObject({ code: 'not_found' });
    }
  });

  it('reads a blob whole even when it is deleted after get() (the file is open)', async () => {
    const put = await store.put(Readable.from([Buffer.alloc(300_000, 98)]));
    const stream = await store.get(put.key);
    await store.delete(put.key);
    expect((await buffer(stream)).length).toBe(300_000);
    await expect(store.get(put.key)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('is not_found for a key that names a directory', async () => {
    const key = 'ab/abcdef01-2345-4789-abcd-0123456789ab';
    await mkdir(join(root, 'ab', 'abcdef01-2345-4789-abcd-0123456789ab'), { recursive: true });
    await expect(store.get(key)).rejects.toMatchObject({ code: 'not_found' });
    expect((await openPaths()).filter((p) => p.startsWith(root))).toEqual([]);
  });

  onLinux(
    'closes the file when a reader destroys the stream mid-way (no leaked handle)',
    async () => {
      const put = await store.put(Readable.from([Buffer.alloc(1024 * 1024, 99)]));
      const path = join(root, ...put.key.split('/'));
      const stream = await store.get(put.key);
      expect(await openPaths()).toContain(path);
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
      stream.destroy();
      await closed;
      expect(await openPaths()).not.toContain(path);
    },
  );

  it('sweeps temp files of a crashed process on init', async () => {
    await mkdir(join(root, '.tmp'), { recursive: true });
    await writeFile(join(root, '.tmp', 'dead.part'), 'half');
    await new FsBlobStore(root).init();
    expect(await listAll(root)).toEqual([]);
  });
});
