import OpenAI, { AzureOpenAI, toFile } from 'openai';
import type { FileObject } from 'openai/resources/files';
import { startSimulator, type RunningSimulator, type SimUploadedFile } from './simulator.server';

const CSV = 'region,revenue\nnorth,1200\nsouth,950\n';
/** Every byte value, twice, plus CRLF and a boundary-like line: multipart must not touch them. */
const BINARY = Buffer.concat([
  Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)),
  Buffer.from('\r\n------formdata-undici-0\r\n--\r\n'),
]);
const MAX_BODY_BYTES = 32 * 1024 * 1024;

async function simFiles(sim: RunningSimulator): Promise<SimUploadedFile[]> {
  const res = await fetch(`${sim.url}/_sim/files`);
  expect(res.status).toBe(200);
  return (await res.json()) as SimUploadedFile[];
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

describe('OpenAI Files API (real openai client)', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sim.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('uploads, retrieves, downloads byte-identical and deletes; a deleted id is 404', async () => {
    const before = Math.floor(Date.now() / 1000);
    const csv = await client.files.create({
      file: await toFile(Buffer.from(CSV), 'sales.csv'),
      purpose: 'user_data',
    });
    const bin = await client.files.create({
      file: await toFile(BINARY, 'blob.xlsx'),
      purpose: 'assistants',
    });
    expect(csv).toEqual({
      id: expect.stringMatching(/^file-sim[0-9a-z]+$/),
      object: 'file',
      bytes: Buffer.byteLength(CSV),
      created_at: expect.any(Number),
      filename: 'sales.csv',
      purpose: 'user_data',
      status: 'processed',
      expires_at: null,
      status_details: null,
    });
    expect(csv.created_at).toBeGreaterThanOrEqual(before);
    expect(bin).toMatchObject({ filename: 'blob.xlsx', bytes: BINARY.length });
    expect(bin.id).not.toBe(csv.id);

    expect(await client.files.retrieve(csv.id)).toEqual(csv);
    const content = await client.files.content(bin.id);
    expect(content.headers.get('content-type')).toBe('application/octet-stream');
    expect(Number(content.headers.get('content-length'))).toBe(BINARY.length);
    expect(Buffer.from(await content.arrayBuffer()).equals(BINARY)).toBe(true);
    expect(await (await client.files.content(csv.id)).text()).toBe(CSV);

    expect(await simFiles(sim)).toEqual([
      { id: csv.id, filename: 'sales.csv', bytes: Buffer.byteLength(CSV), purpose: 'user_data' },
      { id: bin.id, filename: 'blob.xlsx', bytes: BINARY.length, purpose: 'assistants' },
    ]);

    expect(await client.files.delete(csv.id)).toEqual({
      id: csv.id,
      object: 'file',
      deleted: true,
    });
    const gone = client.files.retrieve(csv.id);
    await expect(gone).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(gone).rejects.toMatchObject({
      status: 404,
      error: { message: `No such File object: ${csv.id}`, param: 'id' },
    });
    await expect(client.files.content(csv.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.delete(csv.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await simFiles(sim)).map((f) => f.id)).toEqual([bin.id]);
    expect(sim.files().map((f) => f.id)).toEqual([bin.id]);
  });

  it('lists uploads newest first, pages them and filters by purpose', async () => {
    const ids: string[] = [];
    for (const [name, purpose] of [
      ['a.csv', 'user_data'],
      ['b.csv', 'assistants'],
      ['c.csv', 'user_data'],
    ] as const) {
      const f = await client.files.create({ file: await toFile(Buffer.from(name), name), purpose });
      ids.push(f.id);
    }
    const all: FileObject[] = [];
    for await (const f of client.files.list()) all.push(f);
    expect(all.map((f) => f.filename)).toEqual(['c.csv', 'b.csv', 'a.csv']);
    const first = await client.files.list({ limit: 2, order: 'asc' });
    expect(first.data.map((f) => f.id)).toEqual(ids.slice(0, 2));
    expect(first.has_more).toBe(true);
    expect((await first.getNextPage()).data.map((f) => f.id)).toEqual([ids[2]]);
    const userData = await client.files.list({ purpose: 'user_data' });
    expect(userData.data.map((f) => f.filename)).toEqual(['c.csv', 'a.csv']);
  });

  it('counts and records no upload as a model call', async () => {
    const f = await client.files.create({
      file: await toFile(Buffer.from(CSV), 'x.csv'),
      purpose: 'user_data',
    });
    await client.files.retrieve(f.id);
    await client.files.delete(f.id);
    expect(sim.stats()).toEqual({ open: 0, started: 0, completed: 0, aborted: 0, dropped: 0 });
    const log = (await (await fetch(`${sim.url}/_sim/requests`)).json()) as { requests: [] };
    expect(log.requests).toEqual([]);
  });

  it('forgets uploads on reset', async () => {
    const f = await client.files.create({
      file: await toFile(Buffer.from(CSV), 'x.csv'),
      purpose: 'user_data',
    });
    expect(await simFiles(sim)).toHaveLength(1);
    expect((await fetch(`${sim.url}/_sim/reset`, { method: 'POST' })).status).toBe(200);
    expect(await simFiles(sim)).toEqual([]);
    await expect(client.files.retrieve(f.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('requires an API key', async () => {
    const res = await fetch(`${sim.url}/v1/files`);
    expect(res.status).toBe(401);
    const azure = await fetch(`${sim.url}/openai/files?api-version=2024-10-21`);
    expect(azure.status).toBe(401);
  });

  describe('multipart bodies', () => {
    const post = (
      body: string | FormData,
      headers: Record<string, string> = {},
    ): Promise<Response> =>
      fetch(`${sim.url}/v1/files`, {
        method: 'POST',
        headers: { authorization: 'Bearer x', ...headers },
        body,
      });
    const form = (parts: Record<string, string | Blob | [Blob, string]>): FormData => {
      const data = new FormData();
      for (const [name, value] of Object.entries(parts)) {
        if (Array.isArray(value)) data.append(name, value[0], value[1]);
        else data.append(name, value);
      }
      return data;
    };
    const rejects = async (
      res: Response,
      status: number,
      param: string | null,
      mentions: string,
    ): Promise<void> => {
      expect(res.status).toBe(status);
      const body = (await res.json()) as ErrorBody;
      expect(body.error).toMatchObject({ type: 'invalid_request_error', param });
      expect(body.error.message).toContain(mentions);
    };

    it('refuses a missing or unknown purpose with 400 naming purpose', async () => {
      const file: [Blob, string] = [new Blob(['x']), 'a.csv'];
      await rejects(await post(form({ file })), 400, 'purpose', "'purpose'");
      await rejects(await post(form({ file, purpose: 'homework' })), 400, 'purpose', 'homework');
      await expect(
        client.files.create({
          file: await toFile(Buffer.from('x'), 'a.csv'),
          purpose: 'nope' as 'user_data',
        }),
      ).rejects.toMatchObject({ status: 400, error: { param: 'purpose' } });
      expect(await simFiles(sim)).toEqual([]);
    });

    it('refuses a missing file, a file sent as a text field, two files and an empty file', async () => {
      await rejects(await post(form({ purpose: 'user_data' })), 400, 'file', "'file'");
      await rejects(
        await post(form({ purpose: 'user_data', file: 'a,b\n1,2\n' })),
        400,
        'file',
        "'file'",
      );
      const two = form({ purpose: 'user_data', file: [new Blob(['1']), 'one.csv'] });
      two.append('file', new Blob(['2']), 'two.csv');
      await rejects(await post(two), 400, 'file', 'exactly one');
      await rejects(
        await post(form({ purpose: 'user_data', file: [new Blob([]), 'empty.csv'] })),
        400,
        'file',
        'empty',
      );
      await expect(
        client.files.create({ file: await toFile(Buffer.alloc(0), 'e.csv'), purpose: 'user_data' }),
      ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
      expect(await simFiles(sim)).toEqual([]);
    });

    it('refuses a body that is not multipart/form-data, or is cut short', async () => {
      await rejects(
        await post(JSON.stringify({ purpose: 'user_data' }), {
          'content-type': 'application/json',
        }),
        400,
        null,
        'multipart/form-data',
      );
      const boundary = 'simboundary';
      const truncated =
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n1,2`;
      await rejects(
        await post(truncated, { 'content-type': `multipart/form-data; boundary=${boundary}` }),
        400,
        null,
        'malformed',
      );
      expect(await simFiles(sim)).toEqual([]);
    });

    it('keeps a unicode file name, and serves it back in Content-Disposition', async () => {
      const name = 'Umsätze 2024 – 東京 "final".csv';
      const f = await client.files.create({
        file: await toFile(Buffer.from(CSV), name),
        purpose: 'user_data',
      });
      // Fetch's FormData percent-encodes the double quote in a file name.
      const sent = name.replace(/"/g, '%22');
      expect(f.filename).toBe(sent);
      expect((await client.files.retrieve(f.id)).filename).toBe(sent);
      const content = await client.files.content(f.id);
      expect(await content.text()).toBe(CSV);
      const disposition = content.headers.get('content-disposition') ?? '';
      expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent(sent)}`);
      expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; /);
    });

    it('keeps only the base name of a file name with directories', async () => {
      const res = await post(
        form({ purpose: 'user_data', file: [new Blob(['1']), 'dir/sub\\x.csv'] }),
      );
      expect(res.status).toBe(200);
      expect(((await res.json()) as FileObject).filename).toBe('x.csv');
    });

    it('answers 413 past the 32 MiB body cap and stores nothing; the next upload works', async () => {
      const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x61);
      const failure = client.files.create({
        file: await toFile(big, 'big.csv'),
        purpose: 'user_data',
      });
      await expect(failure).rejects.toMatchObject({
        status: 413,
        error: { type: 'invalid_request_error' },
      });
      expect(await simFiles(sim)).toEqual([]);
      const ok = await client.files.create({
        file: await toFile(Buffer.from(CSV), 'small.csv'),
        purpose: 'user_data',
      });
      expect(ok.bytes).toBe(Buffer.byteLength(CSV));
    });
  });
});

describe('Azure OpenAI Files API', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });
  afterAll(() => sim.close());

  it('serves /openai/files to the AzureOpenAI client with the api-key header', async () => {
    const azure = new AzureOpenAI({
      endpoint: sim.url,
      apiKey: 'azure-key',
      apiVersion: '2025-04-01-preview',
      maxRetries: 0,
    });
    const f = await azure.files.create({
      file: await toFile(BINARY, 'report.pdf'),
      purpose: 'user_data',
    });
    expect(f).toMatchObject({ object: 'file', filename: 'report.pdf', bytes: BINARY.length });
    expect((await azure.files.retrieve(f.id)).id).toBe(f.id);
    const bytes = Buffer.from(await (await azure.files.content(f.id)).arrayBuffer());
    expect(bytes.equals(BINARY)).toBe(true);
    expect(await azure.files.delete(f.id)).toEqual({ id: f.id, object: 'file', deleted: true });
    await expect(azure.files.retrieve(f.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(sim.files()).toEqual([]);
  });

  it('serves /openai/v1/files to the OpenAI client', async () => {
    const client = new OpenAI({ apiKey: 'k', baseURL: `${sim.url}/openai/v1`, maxRetries: 0 });
    const f = await client.files.create({
      file: await toFile(Buffer.from(CSV), 'v1.csv'),
      purpose: 'user_data',
    });
    expect(await (await client.files.content(f.id)).text()).toBe(CSV);
    expect(sim.files()).toEqual([
      { id: f.id, filename: 'v1.csv', bytes: Buffer.byteLength(CSV), purpose: 'user_data' },
    ]);
    await client.files.delete(f.id);
    expect(sim.files()).toEqual([]);
  });
});
