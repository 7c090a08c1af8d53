// Retrieval evaluation: quality (recall@5, MRR@10) of full-text, vector and
// hybrid retrieval over the labelled corpus in ./corpus, ingestion throughput,
// and query latency at ~10k chunks. Runs the real code paths (FilesService,
// JobWorker, IngestionPipeline, RetrievalService) on embedded PGlite with
// pgvector.
//
//   node eval/rag/run.mjs            (the package script `eval:rag` runs this)
//
// Embeddings: the built-in simulator (deterministic bag-of-words vectors) over
// real HTTP, unless EVAL_OPENAI_EMBEDDINGS=1 with OPENAI_API_KEY set, in which
// case text-embedding-3-small is used. Other knobs: EVAL_DIMENSIONS (256),
// EVAL_CHUNK_TOKENS (100), EVAL_SCALE_CHUNKS (10000), EVAL_PDF_PAGES (40),
// EVAL_QUERIES (200).
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
require('@swc-node/register');
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ds = require(join(root, 'libs/datasources/src/index.ts'));
const rag = require(join(root, 'libs/rag/src/index.ts'));
const storage = require(join(root, 'libs/storage/src/index.ts'));
const llm = require(join(root, 'libs/llm/src/index.ts'));
const sim = require(join(root, 'libs/simulator/src/index.ts'));
const OpenAI = require('openai').default;
const { PDFDocument, StandardFonts } = require('pdf-lib');

const env = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const DIMS = env('EVAL_DIMENSIONS', 256);
const CHUNK_TOKENS = env('EVAL_CHUNK_TOKENS', 100);
const SCALE_CHUNKS = env('EVAL_SCALE_CHUNKS', 10_000);
const PDF_PAGES = env('EVAL_PDF_PAGES', 40);
const QUERIES = env('EVAL_QUERIES', 200);
const here = dirname(fileURLToPath(import.meta.url));
const principal = {
  kind: 'user',
  userId: 'eval',
  accountIds: [],
  scopes: ['files', 'chat'],
  limits: {},
};

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function embedderSetup() {
  const model = {
    id: 'text-embedding-3-small',
    provider: 'openai',
    upstreamModel: 'text-embedding-3-small',
    contextWindow: 8191,
    maxOutputTokens: 0,
    pricing: { input: 0.02, cachedInput: 0.02, output: 0, checked: '2025-01-01' },
    capabilities: ['embeddings'],
  };
  if (process.env.EVAL_OPENAI_EMBEDDINGS === '1' && process.env.OPENAI_API_KEY) {
    const client = new OpenAI({
      apiKey: process.env.OPENAI_API_KEY,
      baseURL: process.env.OPENAI_BASE_URL,
    });
    const service = new llm.LlmService(
      [model],
      [new llm.OpenAiChatProvider({ kind: 'openai', client })],
    );
    return {
      label: 'openai text-embedding-3-small',
      embedder: new rag.LlmEmbedder(service, model.id, DIMS),
      close: async () => {},
    };
  }
  const running = await sim.startSimulator();
  const client = new OpenAI({ apiKey: 'simulated', baseURL: `${running.url}/v1`, maxRetries: 0 });
  const service = new llm.LlmService(
    [model],
    [new llm.OpenAiChatProvider({ kind: 'openai', client, simulated: true })],
  );
  return {
    label: 'simulator (bag-of-hashed-words vectors)',
    embedder: new rag.LlmEmbedder(service, model.id, DIMS),
    close: () => running.close(),
  };
}

async function setup(embedder) {
  const db = await storage.PgliteDatabase.create({ inMemory: true });
  await new storage.Migrator(db).migrate([
    ...ds.datasourceMigrations,
    ...rag.createRagMigrations({ dimensions: DIMS }),
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'eval-rag-'));
  const blobs = new ds.FsBlobStore(dir);
  const queue = new ds.JobQueue(db);
  const files = new ds.FilesService(db, blobs, queue, { maxUploadBytes: 50 * 1024 * 1024 });
  const index = new rag.ChunkIndexRepository(db);
  const pipeline = new rag.IngestionPipeline(
    db,
    files,
    blobs,
    new ds.ExtractionService(),
    index,
    embedder,
    {
      chunking: { maxTokens: CHUNK_TOKENS, overlapTokens: Math.floor(CHUNK_TOKENS / 8) },
    },
  );
  const worker = new ds.JobWorker(queue, { pollMs: 5 }).register(ds.INGEST_FILE_JOB, pipeline);
  const retrieval = new rag.RetrievalService(db, index, embedder);
  return { db, dir, files, worker, retrieval };
}

async function drain(ctx) {
  while (await ctx.worker.runOnce());
  const pending = await ctx.db.query(
    `SELECT count(*)::int AS n FROM files WHERE status NOT IN ('ready', 'failed')`,
  );
  if (pending.rows[0].n > 0) throw new Error('ingestion left files unprocessed');
}

async function upload(ctx, name, body) {
  return ctx.files.upload(principal, Readable.from([Buffer.from(body)]), { filename: name });
}

async function ask(ctx) {
  const questions = JSON.parse(await readFile(join(here, 'questions.json'), 'utf8'));
  const out = {};
  for (const mode of ['fulltext', 'vector', 'hybrid']) {
    let hits5 = 0;
    let rr = 0;
    for (const q of questions) {
      const results = await ctx.retrieval.search(principal, q.q, { k: 10, mode });
      const rank = results.findIndex((h) => h.fileName === q.file && h.text.includes(q.answer)) + 1;
      if (rank > 0 && rank <= 5) hits5++;
      if (rank > 0) rr += 1 / rank;
    }
    out[mode] = {
      recallAt5: round(hits5 / questions.length),
      mrrAt10: round(rr / questions.length),
    };
  }
  return { questions: questions.length, modes: out };
}

async function quality(ctx) {
  const names = (await readdir(join(here, 'corpus'))).filter(
    (n) => n.endsWith('.md') && n !== 'README.md',
  );
  for (const n of names) await upload(ctx, n, await readFile(join(here, 'corpus', n)));
  const t0 = performance.now();
  await drain(ctx);
  const ingestMs = performance.now() - t0;
  const chunks = (await ctx.db.query('SELECT count(*)::int AS n FROM chunks')).rows[0].n;
  return {
    documents: names.length,
    chunks,
    ingestSeconds: round(ingestMs / 1000, 2),
    ...(await ask(ctx)),
  };
}

async function pdfThroughput(ctx) {
  const words = (
    await Promise.all(
      (await readdir(join(here, 'corpus')))
        .filter((n) => n.endsWith('.md'))
        .map((n) => readFile(join(here, 'corpus', n), 'utf8')),
    )
  )
    .join(' ')
    .replace(/[#\n]+/g, ' ')
    .split(/\s+/)
    .filter((w) => /^[\x20-\x7e]+$/.test(w));
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  let w = 0;
  for (let p = 0; p < PDF_PAGES; p++) {
    const page = doc.addPage([595, 842]);
    for (let line = 0; line < 45; line++) {
      const text = words.slice(w % words.length, (w % words.length) + 12).join(' ');
      w += 12;
      page.drawText(text, { x: 40, y: 800 - line * 17, size: 10, font });
    }
  }
  const pdf = Buffer.from(await doc.save());
  const f = await upload(ctx, 'throughput.pdf', pdf);
  const t0 = performance.now();
  await drain(ctx);
  const seconds = (performance.now() - t0) / 1000;
  const status = (await ctx.files.get(principal, f.id)).status;
  return {
    pages: PDF_PAGES,
    bytes: pdf.length,
    seconds: round(seconds, 2),
    pagesPerSecond: round(PDF_PAGES / seconds, 1),
    status,
  };
}

/**
 * Synthetic documents until ~SCALE_CHUNKS chunks exist: "word salad" sentences
 * drawn from the corpus vocabulary, so they share words (and compete in both
 * rankings) but never restate a corpus fact.
 */
async function scale(ctx) {
  const vocabulary = [
    ...new Set(
      (
        await Promise.all(
          (await readdir(join(here, 'corpus')))
            .filter((n) => n.endsWith('.md') && n !== 'README.md')
            .map((n) => readFile(join(here, 'corpus', n), 'utf8')),
        )
      )
        .join(' ')
        .toLowerCase()
        .match(/[a-z]{3,}/g),
    ),
  ];
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const have = async () => (await ctx.db.query('SELECT count(*)::int AS n FROM chunks')).rows[0].n;
  const t0 = performance.now();
  let docs = 0;
  let start = await have();
  while ((await have()) < SCALE_CHUNKS) {
    const batch = [];
    for (let d = 0; d < 20; d++) {
      const paras = [];
      for (let p = 0; p < 60; p++) {
        const s = [];
        for (let i = 0; i < 4; i++) {
          const n = 8 + Math.floor(rnd() * 9);
          const words = Array.from(
            { length: n },
            () => vocabulary[Math.floor(rnd() * vocabulary.length)],
          );
          s.push(`${words.join(' ')}.`);
        }
        paras.push(s.join(' '));
      }
      batch.push(upload(ctx, `synthetic-${docs++}.txt`, paras.join('\n\n')));
    }
    await Promise.all(batch);
    await drain(ctx);
  }
  const ingestSeconds = (performance.now() - t0) / 1000;
  const total = await have();
  const questions = JSON.parse(await readFile(join(here, 'questions.json'), 'utf8'));
  const latency = {};
  for (const mode of ['fulltext', 'vector', 'hybrid']) {
    const ms = [];
    for (let i = 0; i < QUERIES; i++) {
      const q = questions[i % questions.length].q;
      const t = performance.now();
      await ctx.retrieval.search(principal, q, { k: 8, mode });
      ms.push(performance.now() - t);
    }
    latency[mode] = { p50Ms: round(percentile(ms, 50), 1), p99Ms: round(percentile(ms, 99), 1) };
  }
  // the same questions again, now among ~10k chunks of distractors
  const withDistractors = (await ask(ctx)).modes;
  return {
    chunks: total,
    withDistractors,
    syntheticDocuments: docs,
    ingestSeconds: round(ingestSeconds, 1),
    chunksPerSecond: round((total - start) / ingestSeconds, 0),
    queries: QUERIES,
    latency,
  };
}

async function main() {
  const { label, embedder, close } = await embedderSetup();
  const ctx = await setup(embedder);
  try {
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      database: 'PGlite (in-memory) with pgvector',
      embeddings: `${label}, ${DIMS} dimensions`,
      chunkTokens: CHUNK_TOKENS,
      describe: await ctx.retrieval.describe(),
    };
    process.stderr.write('quality...\n');
    report.quality = await quality(ctx);
    process.stderr.write('pdf throughput...\n');
    report.pdf = await pdfThroughput(ctx);
    process.stderr.write(`scale to ${SCALE_CHUNKS} chunks...\n`);
    report.scale = await scale(ctx);
    await mkdir(join(here, 'results'), { recursive: true });
    await writeFile(join(here, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    const q = report.quality.modes;
    const l = report.scale.latency;
    console.log(`# RAG evaluation (${report.date})\n`);
    console.log(
      `${report.database}; embeddings: ${report.embeddings}; chunks of <= ${CHUNK_TOKENS} tokens.\n`,
    );
    console.log(
      `Quality: ${report.quality.questions} labelled questions over ${report.quality.documents} documents (${report.quality.chunks} chunks).\n`,
    );
    console.log('| mode | recall@5 | MRR@10 | p50 at ' + report.scale.chunks + ' chunks | p99 |');
    console.log('|---|---|---|---|---|');
    for (const m of ['fulltext', 'vector', 'hybrid'])
      console.log(
        `| ${m} | ${q[m].recallAt5} | ${q[m].mrrAt10} | ${l[m].p50Ms} ms | ${l[m].p99Ms} ms |`,
      );
    console.log(
      `\nThe same questions among ${report.scale.chunks - report.quality.chunks} distractor chunks:\n`,
    );
    console.log('| mode | recall@5 | MRR@10 |');
    console.log('|---|---|---|');
    for (const m of ['fulltext', 'vector', 'hybrid'])
      console.log(
        `| ${m} | ${report.scale.withDistractors[m].recallAt5} | ${report.scale.withDistractors[m].mrrAt10} |`,
      );
    console.log(
      `\nIngestion: PDF ${report.pdf.pages} pages in ${report.pdf.seconds} s = ${report.pdf.pagesPerSecond} pages/s; ` +
        `${report.scale.chunks} chunks at ${report.scale.chunksPerSecond} chunks/s (extract + chunk + embed + index).`,
    );
  } finally {
    await ctx.db.close();
    await rm(ctx.dir, { recursive: true, force: true });
    await close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
