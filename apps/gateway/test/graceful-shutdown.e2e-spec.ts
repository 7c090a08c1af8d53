import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN_KEY,
  ROOT,
  spawnGateway,
  TEST_MODELS,
  auth,
  chatBody,
  postJson,
  readSse,
  waitFor,
} from './gateway.harness';

describe('graceful shutdown on SIGTERM (real child process)', () => {
  let sim: RunningSimulator;
  let dir: string;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, host: '127.0.0.1' });
    dir = await mkdtemp(join(tmpdir(), 'sb-drain-'));
    await writeFile(join(dir, 'models.json'), JSON.stringify(TEST_MODELS));
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('flips ready, refuses new chats with 503 draining, lets short streams finish, ends long ones with a draining frame, exits 0', async () => {
    const gw = await spawnGateway({
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_API_KEY: ADMIN_KEY,
      SIMULATOR_URL: sim.url,
      MODELS_FILE: join(dir, 'models.json'),
      DATA_DIR: dir,
      SHUTDOWN_DRAIN_SECONDS: '2',
      LOG_LEVEL: 'info',
    });
    expect((await fetch(`${gw.url}/ready`)).status).toBe(200);

    const short = await postJson(`${gw.url}/chat`, chatBody('short\n#sim tokens=10 tps=20'));
    const long = await postJson(`${gw.url}/chat`, chatBody('long\n#sim tokens=10000 tps=20'));
    const collect = async (res: Response) => {
      const out: Record<string, unknown>[] = [];
      for await (const f of readSse(res))
        if (f.data) out.push(JSON.parse(f.data) as Record<string, unknown>);
      return out;
    };
    const shortFrames = collect(short);
    const longFrames = collect(long);
    await waitFor(() => sim.stats().open === 2, 5000);

    gw.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${gw.url}/ready`)).status === 503, 10_000, 20);

    const refused = await postJson(`${gw.url}/chat`, chatBody('new'), auth);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('draining');

    const s = await shortFrames;
    expect(s[s.length - 1]).toMatchObject({ s: 'result', type: 'end', status: 'complete' });
    expect(s.filter((f) => f.s === 'answer')).toHaveLength(10);

    const l = await longFrames;
    expect(l[l.length - 2]).toMatchObject({ s: 'error', error: { code: 'draining' } });
    expect(l[l.length - 1]).toMatchObject({ s: 'result', type: 'end', status: 'cancelled' });

    expect(await gw.exit).toBe(0);
    await waitFor(() => sim.stats().open === 0);
  }, 40000);

  it('refuses to boot with an invalid variable, naming it', async () => {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', 'apps/gateway/src/main.ts'],
      {
        cwd: ROOT,
        env: { ...process.env, REDIS_URL: 'ftp://nope', PORT: 'x', DATA_DIR: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(stderr).toContain('REDIS_URL');
    expect(stderr).toContain('PORT');
  }, 20000);
});
