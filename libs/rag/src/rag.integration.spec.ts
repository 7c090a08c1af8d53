import { waitFor } from '@switchboard/common/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  ExtractionService,
  FilesService,
  FsBlobStore,
  INGEST_FILE_JOB,
  JobQueue,
  JobWorker,
  datasourceMigrations,
} from '@switchboard/datasources';
import { Migrator, type PgliteDatabase } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { makeDocx, makeEncryptedPdf, makePdf } from '../../datasources/test/fixtures';
import { FakeEmbedder, user } from '../test/helpers';
import { ContextBuilder, toSourcesState } from './context/context-builder';
import { DataSourceResolver } from './context/datasource-resolver';
import { ChunkIndexRepository } from './index/chunk-index.repository';
import { createRagMigrations } from './index/rag.migrations';
import { IngestionPipeline } from './ingestion/ingestion.pipeline';
import { RetrievalService } from './retrieval/retrieval.service';

const alice = user('alice', ['acme']);
const bob = user('bob', ['acme']);
const eve = user('eve', ['evil']);

describe('ingestion, retrieval and context (PGlite + pgvector)', () => {
  let db: PgliteDatabase;
  let dir: string;
  let files: FilesService;
  let queue: JobQueue;
  let worker: JobWorker;
  let embedder: FakeEmbedder;
  let index: ChunkIndexRepository;
  let retrieval: RetrievalService;
  let builder: ContextBuilder;
  let resolver: DataSourceResolver;

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate([
      ...datasourceMigrations,
      ...createRagMigrations({ dimensions: 64 }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'rag-'));
    const blobs = new FsBlobStore(dir);
    queue = new JobQueue(db, { backoffBaseMs: 1, backoffMaxMs: 1 });
    files = new FilesService(db, blobs, queue, { isMember: () => true, ingestMaxAttempts: 3 });
    embedder = new FakeEmbedder(64);
    index = new ChunkIndexRepository(db);
    const pipeline = new IngestionPipeline(
      db,
      files,
      blobs,
      new ExtractionService(),
      index,
      embedder,
      {
        chunking: { maxTokens: 120, overlapTokens: 20 },
      },
    );
    worker = new JobWorker(queue, { pollMs: 5 }).register(INGEST_FILE_JOB, pipeline);
    retrieval = new RetrievalService(index, embedder);
    builder = new ContextBuilder(files, retrieval);
    resolver = new DataSourceResolver(files);
  });
  afterAll(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** runs jobs until none is queued (a retried job waits out its backoff first) */
  async function drain(): Promise<void> {
    await waitFor(
      async () => {
        while (await worker.runOnce());
        const pending = await db.query(`SELECT 1 FROM jobs WHERE status = 'queued'`);
        return pending.rowCount === 0;
      },
      { timeoutMs: 20_000, what: 'ingestion queue drained' },
    );
  }

  const up = (p = alice, body: Buffer | string, filename: string) =>
    files.upload(p, Readable.from([Buffer.isBuffer(body) ? body : Buffer.from(body)]), {
      filename,
    });

  let pdfId: string;
  let csvId: string;
  let docxId: string;
  let htmlId: string;

  it('ingests PDF, DOCX, CSV and HTML to ready, with located chunks and vectors', async () => {
    pdfId = (
      await up(
        alice,
        await makePdf([
          ['Company handbook.'],
          ['The turbine maintenance interval is 400 operating hours.'],
        ]),
        'handbook.pdf',
      )
    ).id;
    csvId = (
      await up(
        alice,
        'part,supplier\nbearing,Nordic Steel\ngasket,Rubber Works\nvalve,Kessler Valves\n',
        'parts.csv',
      )
    ).id;
    docxId = (
      await up(
        alice,
        await makeDocx([
          { text: 'Holidays', style: 'Heading1' },
          { text: 'Staff receive 30 vacation days per year.' },
        ]),
        'hr.docx',
      )
    ).id;
    htmlId = (
      await up(
        alice,
        '<html><body><h1>Canteen</h1><p>Lunch is served from noon.</p><script>x()</script></body></html>',
        'c.html',
      )
    ).id;
    await drain();
    for (const id of [pdfId, csvId, docxId, htmlId])
      expect((await files.get(alice, id)).status).toBe('ready');
    const chunks = await db.query<{
      file_id: string;
      location: object;
      model: string | null;
      has_vec: boolean;
    }>(
      `SELECT file_id, location, embedding_model AS model, embedding IS NOT NULL AS has_vec FROM chunks ORDER BY file_id, ord`,
    );
    expect(chunks.rows.find((c) => c.file_id === pdfId)).toMatchObject({
      location: { page: 1, pageEnd: 2 },
      model: 'sim-embed',
      has_vec: true,
    });
    expect(chunks.rows.find((c) => c.file_id === csvId)?.location).toEqual({ row: 2, rowEnd: 4 });
    expect(chunks.rows.find((c) => c.file_id === docxId)?.location).toEqual({
      heading: 'Holidays',
    });
  });

  it('describes itself as hybrid with an embedder on pgvector, full-text without one', async () => {
    expect((await retrieval.describe()).mode).toBe('hybrid');
    expect(await new RetrievalService(index, null).describe()).toEqual({
      mode: 'fulltext',
      reason: 'no embedding model configured',
    });
  });

  it('finds the right chunk by full-text, vector and hybrid ranking', async () => {
    for (const mode of ['fulltext', 'vector', 'hybrid'] as const) {
      const hits = await retrieval.search(alice, 'How many vacation days do staff get?', {
        k: 3,
        mode,
      });
      expect(hits[0]).toMatchObject({
        fileId: docxId,
        fileName: 'hr.docx',
        location: { heading: 'Holidays' },
      });
    }
    const hybrid = await retrieval.search(alice, 'turbine maintenance interval', { k: 3 });
    expect(hybrid[0]).toMatchObject({ fileId: pdfId, fulltextRank: 1, vectorRank: 1 });
    expect(hybrid[0].score).toBeCloseTo(2 / 61, 6);
  });

  it('never returns chunks of files the caller may not read, in either ranking', async () => {
    for (const mode of ['fulltext', 'vector', 'hybrid'] as const) {
      expect(
        await retrieval.search(eve, 'turbine maintenance interval 400 hours', { mode }),
      ).toEqual([]);
      expect(await retrieval.search(eve, 'turbine', { mode, fileIds: [pdfId] })).toEqual([]);
      expect(await retrieval.search(bob, 'vacation days', { mode })).toEqual([]);
    }
    await files.share(alice, docxId, ['acme']);
    expect((await retrieval.search(bob, 'vacation days', { k: 5 })).map((h) => h.fileId)).toEqual([
      docxId,
    ]);
    await files.share(alice, docxId, []);
  });

  it('filters by file ids and tags inside the query', async () => {
    await files.setTags(alice, csvId, ['suppliers']);
    const byTag = await retrieval.search(alice, 'turbine bearing supplier lunch', {
      tags: ['suppliers'],
      k: 10,
    });
    expect(new Set(byTag.map((h) => h.fileId))).toEqual(new Set([csvId]));
    const byId = await retrieval.search(alice, 'turbine bearing supplier lunch', {
      fileIds: [htmlId],
      k: 10,
    });
    expect(new Set(byId.map((h) => h.fileId))).toEqual(new Set([htmlId]));
  });

  it('resolves data sources without revealing which hidden ones exist', async () => {
    const r = await resolver.resolve(eve, [pdfId, 'no-such-file', 'tag://suppliers']);
    expect(r.files).toEqual([]);
    expect(r.warnings).toEqual([
      { ref: pdfId, message: 'The data source was not found.' },
      { ref: 'no-such-file', message: 'The data source was not found.' },
      { ref: 'tag://suppliers', message: 'No accessible files carry this tag.' },
    ]);
    const mine = await resolver.resolve(alice, [pdfId, 'tag://suppliers', pdfId]);
    expect(mine.files.map((f) => f.id)).toEqual([pdfId, csvId]);
    expect(mine.warnings).toEqual([]);
  });

  it('inserts whole documents with numbered, located sources when they fit', async () => {
    const { files: fs } = await resolver.resolve(alice, [pdfId, csvId]);
    const ctx = await builder.build({
      principal: alice,
      files: fs,
      question: 'Who supplies valves?',
      budgetTokens: 4000,
    });
    expect(ctx.mode).toBe('documents');
    expect(ctx.sources.map((s) => [s.n, s.name, s.location])).toEqual([
      [1, 'handbook.pdf', 'page 1'],
      [2, 'handbook.pdf', 'page 2'],
      [3, 'parts.csv', 'rows 2–4'],
    ]);
    expect(ctx.systemText).toContain(
      '[2] handbook.pdf (page 2)\nThe turbine maintenance interval is 400 operating hours.',
    );
    expect(ctx.systemText).toContain('supplier: Kessler Valves');
    expect(ctx.systemText).toMatch(/square brackets/);
    expect(ctx.tokens).toBeLessThanOrEqual(4000);
    expect(toSourcesState(ctx.sources).sources.documents.sources[2]).toEqual({
      n: 3,
      fileId: csvId,
      name: 'parts.csv',
      location: 'rows 2–4',
      score: 1,
      snippet:
        'part: bearing; supplier: Nordic Steel part: gasket; supplier: Rubber Works part: valve; supplier: Kessler Valves',
    });
  });

  it('retrieves the top chunks when the documents do not fit, or when ragOnly', async () => {
    const { files: fs } = await resolver.resolve(alice, [pdfId, csvId, docxId, htmlId]);
    const ctx = await builder.build({
      principal: alice,
      files: fs,
      question: 'turbine maintenance interval',
      budgetTokens: 4000,
      ragOnly: true,
      k: 2,
    });
    expect(ctx.mode).toBe('retrieval');
    expect(ctx.sources[0]).toMatchObject({ n: 1, fileId: pdfId, location: 'pages 1–2' });
    expect(ctx.sources[0].snippet).toContain('turbine maintenance interval');
    const tight = await builder.build({
      principal: alice,
      files: fs,
      question: 'turbine maintenance interval',
      budgetTokens: 110,
    });
    expect(tight.mode).toBe('retrieval');
    expect(tight.tokens).toBeLessThanOrEqual(110);
  });

  it('cuts documents at the budget with skipRag', async () => {
    const { files: fs } = await resolver.resolve(alice, [pdfId, csvId, docxId, htmlId]);
    const ctx = await builder.build({
      principal: alice,
      files: fs,
      question: 'x',
      budgetTokens: 110,
      skipRag: true,
    });
    expect(ctx.mode).toBe('documents');
    expect(ctx.truncated).toBe(true);
    expect(ctx.tokens).toBeLessThanOrEqual(110);
  });

  it('builds no context from files of another user even if handed their records', async () => {
    const aliceFiles = await files.list(alice);
    const ctx = await builder.build({
      principal: eve,
      files: aliceFiles,
      question: 'turbine',
      budgetTokens: 4000,
    });
    expect(ctx).toMatchObject({ mode: 'none', sources: [], systemText: '' });
    const rag = await builder.build({
      principal: eve,
      files: aliceFiles,
      question: 'turbine',
      budgetTokens: 4000,
      ragOnly: true,
    });
    expect(rag.sources).toEqual([]);
  });

  it('puts external source documents through the same insert-or-retrieve path', async () => {
    const external = [
      {
        sourceName: 'weather',
        url: 'http://x/',
        segments: [{ text: 'Storm warning for the harbour tonight.', location: {} }],
      },
    ];
    const { files: fs } = await resolver.resolve(alice, [pdfId]);
    const whole = await builder.build({
      principal: alice,
      files: fs,
      question: 'storm?',
      budgetTokens: 4000,
      external,
    });
    expect(whole.sources.map((s) => [s.fileId, s.name])).toEqual([
      [pdfId, 'handbook.pdf'],
      [pdfId, 'handbook.pdf'],
      ['source://weather', 'weather'],
    ]);
    const rag = await builder.build({
      principal: alice,
      files: fs,
      question: 'storm warning harbour',
      budgetTokens: 4000,
      ragOnly: true,
      external,
    });
    expect(rag.mode).toBe('retrieval');
    expect(rag.sources.map((s) => s.fileId)).toContain('source://weather');
    expect(rag.systemText).toContain('Storm warning for the harbour tonight.');
  });

  it('fails an encrypted PDF at once with the reason, dead-lettering its job', async () => {
    const f = await up(alice, makeEncryptedPdf(), 'locked.pdf');
    await drain();
    expect(await files.get(alice, f.id)).toMatchObject({
      status: 'failed',
      error: 'The PDF is password-protected.',
    });
    const dead = await queue.listDead();
    expect(dead.find((j) => j.payload.fileId === f.id)).toMatchObject({ attempts: 1 });
  });

  it('retries transient embedding failures, then fails the file after N attempts', async () => {
    embedder.failuresLeft = 1;
    const ok = await up(alice, 'Recovered after one embedding failure.', 'retry.txt');
    await drain();
    expect((await files.get(alice, ok.id)).status).toBe('ready');
    embedder.failuresLeft = -1; // always
    const bad = await up(alice, 'This one never embeds.', 'never.txt');
    await drain();
    embedder.failuresLeft = 0;
    expect(await files.get(alice, bad.id)).toMatchObject({
      status: 'failed',
      error: 'Ingestion failed after 3 attempts: embedding upstream unavailable',
    });
  });

  it('delete removes text, chunks and vectors', async () => {
    await files.delete(alice, htmlId);
    expect((await db.query('SELECT 1 FROM chunks WHERE file_id = $1', [htmlId])).rowCount).toBe(0);
    expect((await db.query('SELECT 1 FROM file_texts WHERE file_id = $1', [htmlId])).rowCount).toBe(
      0,
    );
    expect(await retrieval.search(alice, 'lunch served noon', { mode: 'fulltext' })).toEqual([]);
    const hybrid = await retrieval.search(alice, 'lunch served noon', { k: 20 });
    expect(hybrid.map((h) => h.fileId)).not.toContain(htmlId);
  });
});
