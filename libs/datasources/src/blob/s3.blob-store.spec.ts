import { Agent } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createHash } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
// s3rver: an S3-compatible server in Node (devDependency), so the adapter is
// exercised through the real SDK over HTTP, multipart included.
import S3rver from 's3rver';
import { S3BlobStore } from './s3.blob-store';

const MiB = 1024 * 1024;

function chunked(total: number, chunk = 256 * 1024): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(chunk, total - sent);
      sent += n;
      this.push(Buffer.alloc(n, sent % 251));
    },
  });
}

describe('S3BlobStore (against s3rver)', () => {
  let dir: string;
  let server: S3rver;
  let client: S3Client;
  let store: S3BlobStore;
  let endpoint: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3rver-'));
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: dir,
      configureBuckets: [{ name: 'uploads', configs: [] }],
    });
    const { port } = (await server.run()) as { port: number };
    endpoint = `http://127.0.0.1:${port}`;
    client = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    store = new S3BlobStore({ client, bucket: 'uploads', prefix: '/tenant-a/blobs/' });
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const keys = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: 'uploads' }))).Contents ?? []).map(
      (o) => o.Key,
    );

  it('builds object keys under the normalised prefix from generated keys only', () => {
    expect(store.objectKey('ab/abcdef01-2345-4789-abcd-0123456789ab')).toBe(
      'tenant-a/blobs/ab/abcdef01-2345-4789-abcd-0123456789ab',
    );
    expect(() => store.objectKey('../x')).toThrow(expect.objectContaining({ code: 'not_found' }));
  });

  it('puts, gets and deletes a small object (single PUT)', async () => {
    const put = await store.put(Readable.from([Buffer.from('small body')]), {
      contentType: 'text/plain',
    });
    expect(put.size).toBe(10);
    expect(await keys()).toContain(store.objectKey(put.key));
    expect((await buffer(await store.get(put.key))).toString()).toBe('small body');
    await store.delete(put.key);
    await expect(store.get(put.key)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('streams a multipart upload and reports size and sha256 of what was sent', async () => {
    const total = 11 * MiB;
    const put = await store.put(chunked(total), { maxBytes: 20 * MiB });
    expect(put.size).toBe(total);
    const back = await buffer(await store.get(put.key));
    expect(back.length).toBe(total);
    expect(createHash('sha256').update(back).digest('hex')).toBe(put.sha256);
    await store.delete(put.key);
  });

  it('gives the connection back when a reader destroys the body mid-way', async () => {
    const put = await store.put(chunked(4 * MiB));
    // one socket only: a body that kept its connection would block the next request
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const single = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestHandler: { httpAgent: agent, requestTimeout: 5000 },
    });
    const narrow = new S3BlobStore({
      client: single,
      bucket: 'uploads',
      prefix: '/tenant-a/blobs/',
    });
    try {
      for (let i = 0; i < 3; i++) {
        const body = await narrow.get(put.key);
        await new Promise<void>((resolve) => body.once('data', () => resolve()));
        body.destroy();
      }
      expect((await buffer(await narrow.get(put.key))).length).toBe(4 * MiB);
    } finally {
      single.destroy();
      agent.destroy();
      await store.delete(put.key);
    }
  });

  it('aborts at the limit mid-multipart and leaves no object behind', async () => {
    const before = await keys();
    const source = chunked(14 * MiB);
    await expect(store.put(source, { maxBytes: 7 * MiB })).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    expect(source.destroyed).toBe(true);
    expect(await keys()).toEqual(before);
  });

  it('aborts at the limit of a single-part body and leaves no object behind', async () => {
    const before = await keys();
    await expect(store.put(chunked(2 * MiB), { maxBytes: MiB })).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    expect(await keys()).toEqual(before);
  });
});
