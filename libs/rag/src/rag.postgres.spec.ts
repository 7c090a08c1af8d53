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
import { Migrator } from '@switchboard/storage';
import { type TestPostgres, createTestPostgres } from '@switchboard/storage/testing';
import { FakeEmbedder, user } from '../test/helpers';
import { ChunkIndexRepository } from './index/chunk-index.repository';
import { ragMigrations } from './index/rag.migrations';
import { IngestionPipeline } from './ingestion/ingestion.pipeline';
import { RetrievalService } from './retrieval/retrieval.service';

const alice = user('alice');
const eve = user('eve');

describe('on PostgreSQL without pgvector', () => {
  let pg: TestPostgres;
  let dir: string;

  beforeAll(async () => {
    pg = await createTestPostgres({ poolSize: 6 });
    await new Migrator(pg.db).migrate([...datasourceMigrations, ...ragMigrations]);
    dir = await mkdtemp(join(tmpdir(), 'ragpg-'));
  });
  afterAll(async () => {
    await pg.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('ingests with three workers sharing the queue, degrades to full-text and says why', async () => {
    if (pg.db.hasVector) return; // this server has pgvector: the degradation cannot be shown here
    const blobs = new FsBlobStore(dir);
    const queue = new JobQueue(pg.db);
    const files = new FilesService(pg.db, blobs, queue, { isMember: () => true });
    const embedder = new FakeEmbedder(64);
    const index = new ChunkIndexRepository(pg.db);
    const pipeline = new IngestionPipeline(
      pg.db,
      files,
      blobs,
      new ExtractionService(),
      index,
      embedder,
    );
    const workers = [1, 2, 3].map((i) =>
      new JobWorker(queue, { workerId: `w${i}`, pollMs: 10 }).register(INGEST_FILE_JOB, pipeline),
    );

    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const body = `Report ${i}. The quarterly widget output of plant ${i} was ${i * 100} units.`;
      ids.push(
        (await files.upload(alice, Readable.from([Buffer.from(body)]), { filename: `r${i}.txt` }))
          .id,
      );
    }
    workers.forEach((w) => w.start());
    await waitFor(
      async () => (await pg.db.query(`SELECT 1 FROM files WHERE status <> 'ready'`)).rowCount === 0,
      { timeoutMs: 15_000, what: 'ingestion finished' },
    );
    await Promise.all(workers.map((w) => w.stop()));

    const jobs = await pg.db.query<{ attempts: number; status: string }>(
      'SELECT attempts, status FROM jobs',
    );
    expect(jobs.rows).toHaveLength(12);
    expect(jobs.rows.every((j) => j.status === 'done' && j.attempts === 1)).toBe(true);
    expect(embedder.calls).toBe(0); // no vector column: nothing to embed into

    const retrieval = new RetrievalService(index, embedder);
    expect(await retrieval.describe()).toEqual({
      mode: 'fulltext',
      reason: 'the database has no pgvector extension',
    });
    const hits = await retrieval.search(alice, 'widget output of plant 7', { k: 3 });
    expect(hits[0]).toMatchObject({ fileId: ids[7], fulltextRank: 1 });
    expect(hits[0].vectorRank).toBeUndefined();
    expect(await retrieval.search(eve, 'widget output of plant 7')).toEqual([]);
  });
});
