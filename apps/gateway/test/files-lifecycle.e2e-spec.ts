import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '@switchboard/config';
import { LlmService, createProviders, loadCatalogue } from '@switchboard/llm';
import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import { DATABASE, type Database } from '@switchboard/storage';
import pino from 'pino';
import { createGateway, resolveEmbedder, type Gateway } from '../src/bootstrap';
import { ADMIN_KEY, TEST_MODELS, auth, waitFor } from './gateway.harness';

/**
 * The ingestion worker across restarts of an embedded gateway, and how the
 * RAG configuration is resolved at boot (embedding model, full-text fallback).
 */
describe('files: worker lifecycle and RAG configuration', () => {
  let sim: RunningSimulator;
  let dataDir: string;
  let modelsFile: string;

  const env = (extra: Record<string, string>) =>
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ADMIN_API_KEY: ADMIN_KEY,
      SIMULATOR_URL: sim.url,
      MODELS_FILE: modelsFile,
      LOG_LEVEL: 'silent',
      ...extra,
    });
  const boot = (extra: Record<string, string>) =>
    createGateway(env(extra), { logger: pino({ level: 'silent' }) });

  const uploadText = async (gw: Gateway, name: string, text: string) => {
    const form = new FormData();
    form.append('file', new Blob([text], { type: 'text/plain' }), name);
    const res = await fetch(`${gw.url}/files`, { method: 'POST', headers: auth, body: form });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const getFile = async (gw: Gateway, id: string) =>
    (await (await fetch(`${gw.url}/files/${id}`, { headers: auth })).json()) as {
      status: string;
      error: string | null;
    };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, host: '127.0.0.1' });
    dataDir = await mkdtemp(join(tmpdir(), 'sb-files-'));
    modelsFile = join(dataDir, 'models.json');
    await writeFile(modelsFile, JSON.stringify(TEST_MODELS));
  });
  afterAll(async () => {
    await sim?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('jobs cut off by a stop are finished after the restart; a cut-off last attempt fails its file', async () => {
    // API-only process: files are accepted and queued, nothing ingests them
    const first = await boot({ INGESTION_WORKER: 'false', EMBEDDING_MODEL: 'none' });
    let resumed: string;
    let exhausted: string;
    try {
      const ready = (await (await fetch(`${first.url}/ready`)).json()) as {
        info: Record<string, Record<string, unknown>>;
      };
      expect(ready.info.retrieval).toEqual({
        status: 'up',
        mode: 'fulltext',
        reason: 'no embedding model configured',
        blobStore: 'fs',
        ingestionWorker: false,
      });
      resumed = await uploadText(first, 'resumed.txt', 'The Calloway tunnel opened in May.');
      exhausted = await uploadText(first, 'exhausted.txt', 'The Pemberton dam is 80 m high.');
      // INGESTION_WORKER=false: nothing in this process claims them
      expect((await getFile(first, resumed)).status).toBe('queued');

      // as if a worker had claimed both and the process died mid-attempt
      const db = first.app.get<Database>(DATABASE);
      await db.query(
        `UPDATE jobs SET status = 'running', locked_by = 'gone', attempts = 1,
                lease_until = now() + interval '1 hour'
          WHERE payload->>'fileId' = $1`,
        [resumed],
      );
      await db.query(
        `UPDATE jobs SET status = 'running', locked_by = 'gone', attempts = max_attempts,
                lease_until = now() + interval '1 hour'
          WHERE payload->>'fileId' = $1`,
        [exhausted],
      );
      await db.query(`UPDATE files SET status = 'processing' WHERE id = ANY($1::text[])`, [
        [resumed, exhausted],
      ]);
    } finally {
      await first.close();
    }

    const second = await boot({ EMBEDDING_MODEL: 'none' });
    try {
      await waitFor(async () => (await getFile(second, resumed)).status === 'ready', 15_000, 50);
      const failed = await getFile(second, exhausted);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/stopped/);
      const dead = (await (
        await fetch(`${second.url}/admin/jobs/dead`, { headers: auth })
      ).json()) as {
        data: Array<{ payload: { fileId: string } }>;
      };
      expect(dead.data.map((j) => j.payload.fileId)).toEqual([exhausted]);
    } finally {
      await second.close();
    }
  }, 180_000); // two gateway boots (test/jest/e2e-timeout.ts allows 90 s for one), then an ingestion

  it('stopping the gateway stops the worker before the database closes', async () => {
    const gw = await boot({ EMBEDDING_MODEL: 'none' });
    const id = await uploadText(gw, 'late.txt', 'The Ashgrove mill grinds on Fridays.');
    // closing right after the upload: the job either finishes or is released, never left running
    await gw.close();
    const again = await boot({ INGESTION_WORKER: 'false', EMBEDDING_MODEL: 'none' });
    try {
      const db = again.app.get<Database>(DATABASE);
      const job = await db.query<{ status: string; locked_by: string | null }>(
        `SELECT status, locked_by FROM jobs WHERE payload->>'fileId' = $1`,
        [id],
      );
      expect(job.rows).toHaveLength(1);
      expect(['queued', 'done']).toContain(job.rows[0].status);
      expect(job.rows[0].locked_by === null || job.rows[0].status === 'done').toBe(true);
    } finally {
      await again.close();
    }
  });

  it('EMBEDDING_MODEL must name a served embeddings model; the boot fails naming the variable', async () => {
    for (const [model, why] of [
      ['no-such-model', /EMBEDDING_MODEL: .*not a served model/],
      ['sim-gpt', /EMBEDDING_MODEL: .*not an embeddings model/],
    ] as const) {
      const err = await boot({ EMBEDDING_MODEL: model }).then(
        (gw) => gw.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(why);
    }
  });

  it('a changed EMBEDDING_DIMENSIONS stops the boot instead of failing every ingestion', async () => {
    // the data directory's chunk index is migrated with the default 1536 dimensions
    await (await boot({ EMBEDDING_MODEL: 'none' })).close();
    const err = await boot({ EMBEDDING_MODEL: 'sim-embed', EMBEDDING_DIMENSIONS: '256' }).then(
      (gw) => gw.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/EMBEDDING_DIMENSIONS: .*1536 dimensions, not 256/);
    const gw = await boot({ EMBEDDING_MODEL: 'sim-embed' });
    await gw.close();
  });

  it('without EMBEDDING_MODEL: the simulator’s text-embedding-3-small when served, else none', () => {
    const simulated = loadConfig({ SIMULATOR_URL: sim.url });
    const llm = new LlmService(
      loadCatalogue(),
      createProviders(simulated, { simulatorUrl: sim.url }),
    );
    expect(resolveEmbedder(simulated, llm)).toMatchObject({
      modelId: 'text-embedding-3-small',
      dimensions: 1536,
    });
    expect(
      resolveEmbedder(loadConfig({ SIMULATOR_URL: sim.url, EMBEDDING_MODEL: 'none' }), llm),
    ).toBeNull();
    // the test catalogue serves its embeddings model under another id: no default
    const testLlm = new LlmService(
      loadCatalogue(modelsFile),
      createProviders(simulated, { simulatorUrl: sim.url }),
    );
    expect(resolveEmbedder(simulated, testLlm)).toBeNull();
    // real providers get no default, even when they serve the model
    const real = loadConfig({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: sim.url });
    const realLlm = new LlmService(loadCatalogue(), createProviders(real));
    expect(realLlm.models().some((m) => m.id === 'text-embedding-3-small')).toBe(true);
    expect(resolveEmbedder(real, realLlm)).toBeNull();
    expect(
      resolveEmbedder(
        loadConfig({
          OPENAI_API_KEY: 'sk-test',
          EMBEDDING_MODEL: 'text-embedding-3-small',
          EMBEDDING_DIMENSIONS: '512',
        }),
        realLlm,
      ),
    ).toMatchObject({ modelId: 'text-embedding-3-small', dimensions: 512 });
  });
});
