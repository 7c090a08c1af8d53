import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '@switchboard/common/testing';
import { Migrator } from '@switchboard/storage';
import { type TestPostgres, createTestPostgres } from '@switchboard/storage/testing';
import { datasourceMigrations } from '../datasources.migrations';
import { JobQueue } from './job-queue';
import { JobWorker } from './job-worker';

const repoRoot = join(__dirname, '..', '..', '..', '..');

describe('a worker process killed mid-job', () => {
  let pg: TestPostgres;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    pg = await createTestPostgres();
    await new Migrator(pg.db).migrate(datasourceMigrations);
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await pg.drop();
  });

  it('leaves its job to be reclaimed and completed by another process after the lease', async () => {
    const queue = new JobQueue(pg.db);
    const id = await queue.enqueue('crash-test', {});
    child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(__dirname, '../../test/crash-worker.ts')],
      {
        cwd: repoRoot,
        env: { ...process.env, CRASH_DB_URL: pg.url },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const started = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /started (\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child!.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      timer = setTimeout(() => reject(new Error('child did not start')), 20_000);
    }).finally(() => clearTimeout(timer));
    expect(started).toBe(id);
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    child.stdout?.destroy();
    expect(await queue.get(id)).toMatchObject({
      status: 'running',
      lockedBy: 'doomed',
      attempts: 1,
    });

    const done: string[] = [];
    const survivor = new JobWorker(queue, { workerId: 'survivor', pollMs: 25 }).register(
      'crash-test',
      {
        run: (_p, ctx) => {
          done.push(ctx.jobId);
          return Promise.resolve();
        },
      },
    );
    survivor.start();
    await waitFor(async () => (await queue.get(id))?.status === 'done', {
      timeoutMs: 10_000,
      intervalMs: 25,
      what: 'the crashed job reclaimed and done',
    });
    await survivor.stop();
    expect(done).toEqual([id]);
    expect((await queue.get(id))!.attempts).toBe(2);
  }, 40_000);
});
