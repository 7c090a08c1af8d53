import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { startHarness, waitFor, type Harness } from './gateway.harness';

/** A free TCP port on 127.0.0.1 (for a redis-server this test owns). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

interface ReadyBody {
  status: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, { status: string; reachable?: boolean }>;
}

describe('readiness and the metrics port', () => {
  describe('METRICS_PORT set (as in AWS)', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness({ METRICS_PORT: '0' });
    });
    afterAll(async () => {
      await h.close();
    });

    it('serves /metrics on its own port only: the public port answers 404', async () => {
      expect(h.gateway.metricsUrl).not.toBe(`${h.url}/metrics`);
      const own = await fetch(h.gateway.metricsUrl);
      expect(own.status).toBe(200);
      const text = await own.text();
      expect(text).toContain('switchboard_active_streams');
      expect(text).toContain('switchboard_dependency_up{dependency="database"} 1');
      const publicPort = await fetch(`${h.url}/metrics`);
      expect(publicPort.status).toBe(404);
      expect(((await publicPort.json()) as { error: { code: string } }).error.code).toBe(
        'not_found',
      );
    });

    it('answers nothing but GET /metrics on the metrics port', async () => {
      const base = h.gateway.metricsUrl.replace(/\/metrics$/, '');
      expect((await fetch(`${base}/ready`)).status).toBe(404);
      expect((await fetch(`${base}/metrics/../admin/keys`)).status).toBe(404);
      expect((await fetch(h.gateway.metricsUrl, { method: 'POST' })).status).toBe(404);
    });

    it('/ready is 200 with status ok once booted', async () => {
      const res = await fetch(`${h.url}/ready`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as ReadyBody;
      expect(body.status).toBe('ok');
      expect(body.info?.database.status).toBe('up');
    });
  });

  describe('METRICS_PORT unset (local)', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness();
    });
    afterAll(async () => {
      await h.close();
    });

    it('keeps /metrics on the main port', async () => {
      expect(h.gateway.metricsUrl).toBe(`${h.url}/metrics`);
      expect((await fetch(`${h.url}/metrics`)).status).toBe(200);
    });
  });

  describe('a cache outage', () => {
    let redis: ChildProcess;
    let h: Harness;
    let exited: Promise<void>;

    beforeAll(async () => {
      const port = await freePort();
      redis = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      exited = new Promise((r) => redis.once('exit', () => r()));
      h = await startHarness({ REDIS_URL: `redis://127.0.0.1:${port}` });
    });
    afterAll(async () => {
      await h.close();
      if (redis.exitCode === null) redis.kill('SIGKILL');
      await exited;
    });

    it('keeps /ready at 200 (degraded, redis in the error details) and exports the dependency as down', async () => {
      const before = (await (await fetch(`${h.url}/ready`)).json()) as ReadyBody;
      expect(before.info?.redis.status).toBe('up');

      redis.kill('SIGKILL');
      await exited;
      let body: ReadyBody | undefined;
      await waitFor(
        async () => {
          const res = await fetch(`${h.url}/ready`);
          expect(res.status).toBe(200);
          body = (await res.json()) as ReadyBody;
          return body.status === 'degraded';
        },
        10_000,
        20,
      );
      expect(body?.error?.redis).toMatchObject({ status: 'down', reachable: false });
      expect(body?.info?.database.status).toBe('up');
      const metrics = await (await fetch(h.gateway.metricsUrl)).text();
      expect(metrics).toContain('switchboard_dependency_up{dependency="redis"} 0');
    });
  });
});
