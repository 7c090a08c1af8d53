import { waitFor } from '@switchboard/common/testing';
import { Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  DatasourcesModule,
  FilesService,
  JobWorker,
  datasourceMigrations,
} from '@switchboard/datasources';
import { DATABASE, Migrator, type PgliteDatabase } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { FakeEmbedder, user } from '../test/helpers';
import { ContextBuilder } from './context/context-builder';
import { DataSourceResolver } from './context/datasource-resolver';
import { createRagMigrations } from './index/rag.migrations';
import { RagModule } from './rag.module';
import { RetrievalService } from './retrieval/retrieval.service';

describe('DatasourcesModule + RagModule', () => {
  let db: PgliteDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate([
      ...datasourceMigrations,
      ...createRagMigrations({ dimensions: 64 }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'ragmod-'));
  });
  afterAll(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('boots, starts the worker on bootstrap, ingests an upload and stops on shutdown', async () => {
    @Global()
    @Module({ providers: [{ provide: DATABASE, useValue: db }], exports: [DATABASE] })
    class TestDbModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [
        TestDbModule,
        DatasourcesModule.forRoot({
          dataDir: dir,
          blobStore: { kind: 'fs' },
          worker: { pollMs: 20 },
        }),
        RagModule.forRoot({ embedder: new FakeEmbedder(64) }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    const worker = app.get(JobWorker);
    expect(worker.running).toBe(true);

    const alice = user('alice');
    const files = app.get(FilesService);
    const f = await files.upload(
      alice,
      Readable.from([Buffer.from('The pump room key hangs by the north door.')]),
      { filename: 'keys.txt' },
    );
    await waitFor(async () => (await files.get(alice, f.id)).status === 'ready', {
      timeoutMs: 10_000,
      what: 'file ingested',
    });
    expect(await app.get(RetrievalService).describe()).toMatchObject({ mode: 'hybrid' });
    const { files: resolved } = await app.get(DataSourceResolver).resolve(alice, [f.id]);
    const ctx = await app.get(ContextBuilder).build({
      principal: alice,
      files: resolved,
      question: 'where is the key?',
      budgetTokens: 1000,
    });
    expect(ctx.systemText).toContain('[1] keys.txt\nThe pump room key hangs by the north door.');

    await app.close();
    expect(worker.running).toBe(false);
  });
});
