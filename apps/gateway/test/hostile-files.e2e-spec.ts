import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import { createTestPostgres, type TestPostgres } from '@switchboard/storage/testing';
import type { ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deeplyNestedPdf,
  hugePageCountPdf,
  lyingDocx,
  lyingXlsx,
  singleLineCsv,
} from '../../../libs/datasources/test/hostile-files';
import {
  ADMIN_KEY,
  TEST_MODELS,
  auth,
  chatBody,
  postJson,
  readSse,
  spawnGateway,
  waitFor,
} from './gateway.harness';

const MiB = 1024 * 1024;
/** the limits of the gateway under test (EXTRACTION_* and UPLOAD_MAX_BYTES) */
const LIMITS = { workers: 2, heapMb: 128, unzipped: 16 * MiB, upload: 64 * MiB };
/**
 * The README's bound on what extraction adds to the gateway's resident memory:
 * per worker its heap limit, 64 MiB of young generation, code and thread
 * overhead, twice the unzip cap (the inflated parts and the bounded package
 * built from them) and twice the largest upload (the bytes read from the blob
 * store and the copy handed to the worker).
 */
const RSS_BOUND =
  LIMITS.workers * (LIMITS.heapMb * MiB + 64 * MiB + 2 * LIMITS.unzipped + 2 * LIMITS.upload);

async function status(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)![1]);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

/**
 * Hostile uploads against a real gateway process (the TypeScript entry point,
 * so the extraction workers compile their own entry): a DOCX and an XLSX whose
 * headers declare 4 KiB for a part that inflates to 1 GiB / 256 MiB, a PDF
 * nested half a million levels deep, a PDF with 100,000 real pages and a 50 MiB
 * CSV on one line, all at once. Each must end `failed` with a reason, the
 * process's peak resident memory (VmHWM, reset after warm-up) must stay within
 * the documented bound, and a chat stream must run to its end meanwhile.
 */
describe('hostile files are contained by the extraction workers (spawned gateway)', () => {
  let sim: RunningSimulator;
  let pg: TestPostgres;
  let dir: string;
  let gw: { child: ChildProcess; url: string; exit: Promise<number | null> };
  let pid: number;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, host: '127.0.0.1' });
    // PostgreSQL out of process, as in production: the RSS measured is the gateway's own
    pg = await createTestPostgres();
    dir = await mkdtemp(join(tmpdir(), 'sb-hostile-'));
    await writeFile(join(dir, 'models.json'), JSON.stringify(TEST_MODELS));
    gw = await spawnGateway(
      {
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_API_KEY: ADMIN_KEY,
        SIMULATOR_URL: sim.url,
        MODELS_FILE: join(dir, 'models.json'),
        DATA_DIR: dir,
        DATABASE_URL: pg.url,
        API_KEY_SECRET: 'hostile-files-api-key-secret-0123456789',
        EMBEDDING_MODEL: 'none',
        LOG_LEVEL: 'info', // the ready line is logged at info
        UPLOAD_MAX_BYTES: String(LIMITS.upload),
        EXTRACTION_WORKERS: String(LIMITS.workers),
        EXTRACTION_MAX_HEAP_MB: String(LIMITS.heapMb),
        EXTRACTION_MAX_UNZIPPED_BYTES: String(LIMITS.unzipped),
        EXTRACTION_TIMEOUT_SECONDS: '90',
      },
      { startTimeoutMs: 90_000 },
    );
    pid = gw.child.pid!;
  }, 120_000);
  afterAll(async () => {
    gw?.child.kill('SIGTERM');
    await gw?.exit;
    await sim?.close();
    await pg?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const upload = async (name: string, data: Buffer, type: string): Promise<string> => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(data)], { type }), name);
    const r = await fetch(`${gw.url}/files`, { method: 'POST', headers: auth, body: form });
    expect([name, r.status]).toEqual([name, 201]);
    return ((await r.json()) as { id: string }).id;
  };
  const file = async (id: string) => {
    const r = await fetch(`${gw.url}/files/${id}`, { headers: auth });
    const body = (await r.json()) as { status: string; error: string | null };
    if (r.status !== 200) throw new Error(`GET /files/${id}: ${r.status} ${JSON.stringify(body)}`);
    return body;
  };
  const settled = (id: string, timeoutMs: number) =>
    waitFor(async () => ['ready', 'failed'].includes((await file(id)).status), timeoutMs, 100);

  async function chatToEnd(text: string) {
    const res = await postJson(`${gw.url}/chat`, chatBody(text));
    expect(res.status).toBe(200);
    const frames: Array<Record<string, unknown>> = [];
    for await (const f of readSse(res))
      if (f.data) frames.push(JSON.parse(f.data) as Record<string, unknown>);
    return frames;
  }

  it('fails every bomb with a reason, stays within the memory bound, and keeps streaming', async () => {
    // warm-up: one real document through the pool, one chat
    const warm = await upload('warm.txt', Buffer.from('A harmless note.'), 'text/plain');
    await settled(warm, 30_000);
    expect((await file(warm)).status).toBe('ready');
    await chatToEnd('hello\n#sim tokens=3');

    const bombs = {
      docx: await lyingDocx(1024 * MiB),
      xlsx: await lyingXlsx(256 * MiB),
      nested: deeplyNestedPdf(500_000),
      pages: hugePageCountPdf(100_000),
      csv: singleLineCsv(50 * MiB),
    };
    expect(bombs.docx.length).toBeLessThan(1.2 * MiB); // ~1 MB on the wire, 1 GiB inflated

    // peak resident memory is measured from here on
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    const before = await status(pid);

    const ids = {
      docx: await upload('report.docx', bombs.docx, 'application/octet-stream'),
      xlsx: await upload('sheet.xlsx', bombs.xlsx, 'application/octet-stream'),
      nested: await upload('nested.pdf', bombs.nested, 'application/pdf'),
      pages: await upload('pages.pdf', bombs.pages, 'application/pdf'),
      csv: await upload('dump.csv', bombs.csv, 'text/csv'),
    };

    // a chat stream runs while the bombs are being read
    const pending = await Promise.all(Object.values(ids).map(file));
    expect(pending.some((f) => f.status === 'queued' || f.status === 'processing')).toBe(true);
    const frames = await chatToEnd('meanwhile\n#sim tokens=40 tps=40');
    const answer = frames.filter((f) => f.s === 'answer').map((f) => f.d as string);
    expect(answer.length).toBeGreaterThanOrEqual(40);
    expect(frames.at(-1)).toMatchObject({ s: 'result', type: 'end' });

    // the stream completed while bombs were still being read
    const afterChat = await Promise.all(Object.values(ids).map(file));
    expect(afterChat.some((f) => f.status === 'queued' || f.status === 'processing')).toBe(true);
    for (const id of Object.values(ids)) await settled(id, 180_000);
    const results = Object.fromEntries(
      await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, await file(id)] as const)),
    );
    for (const [k, f] of Object.entries(results)) {
      expect([k, f.status]).toEqual([k, 'failed']);
      expect(f.error).toEqual(expect.any(String));
    }
    expect(results.docx.error).toMatch(/expands to more than 16777216 bytes/);
    expect(results.xlsx.error).toMatch(/expands to more than 16777216 bytes/);
    expect(results.pages.error).toMatch(/100000 pages/);
    // sniffed as CSV it stops at the record cap; as plain text at the character cap
    expect(results.csv.error).toMatch(/record longer than|exceeds 20000000 characters/);

    const after = await status(pid);
    const growth = after.hwm - before.rss;
    // printed for the README's figures
    process.stdout.write(
      `hostile files: RSS before ${(before.rss / MiB).toFixed(0)} MiB, peak ${(after.hwm / MiB).toFixed(0)} MiB, growth ${(growth / MiB).toFixed(0)} MiB (bound ${(RSS_BOUND / MiB).toFixed(0)} MiB)\n`,
    );
    expect(growth).toBeLessThan(RSS_BOUND);
    // 1 GiB inflated in-process would have passed the bound on its own
    expect(RSS_BOUND).toBeLessThan(1024 * MiB);

    // the gateway is healthy and the pool still reads documents
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    const after2 = await upload('after.txt', Buffer.from('Still reading files.'), 'text/plain');
    await settled(after2, 30_000);
    expect((await file(after2)).status).toBe('ready');
  }, 400_000);
});
