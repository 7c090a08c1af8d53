import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import {
  averageTasks,
  HOURS_PER_MONTH,
  peakStreams,
  planStack,
  strategySplit,
  taskHourly,
  tasksNeeded,
} from '../../scripts/ops/lib/capacity-plan.mjs';
import { previousImageTag } from '../../scripts/ops/lib/image-history.mjs';
import { isLoopback, percentile } from '../../scripts/ops/lib/load-test-core.mjs';

const ROOT = path.resolve(__dirname, '..', '..');
const execFileAsync = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an ops script asynchronously (servers in this process must keep serving meanwhile). */
async function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'ops', script), ...args],
      {
        cwd: ROOT,
        env,
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

describe('capacity arithmetic', () => {
  it('derives peak streams from active users and the share of time a stream is open', () => {
    // 20k users, 10% active at peak = 2000 users; 500 tokens at 50 tok/s = 10 s streaming
    // out of every 10 + 30 s -> a quarter of active users hold a stream.
    expect(
      peakStreams({
        usersPerDay: 20_000,
        peakConcurrencyRatio: 0.1,
        answerTokens: 500,
        tokensPerSecond: 50,
        thinkSeconds: 30,
      }),
    ).toEqual({ streamSeconds: 10, activeUsers: 2000, streams: 500 });
  });

  it('sizes tasks to the utilisation target and never below minTasks', () => {
    expect(tasksNeeded(5000, 1000, 0.7, 1)).toBe(8); // 5000 / 700 = 7.14
    expect(tasksNeeded(500, 1000, 0.7, 3)).toBe(3);
    expect(tasksNeeded(700, 1000, 0.7, 1)).toBe(1);
  });

  it('provisions enough and not one task more than needed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 10 }),
        (streams, perTask, utilization, minTasks) => {
          const n = tasksNeeded(streams, perTask, utilization, minTasks);
          const usable = perTask * utilization;
          expect(n).toBeGreaterThanOrEqual(minTasks);
          expect(n * usable).toBeGreaterThanOrEqual(streams - 1e-6);
          if (n > minTasks) expect((n - 1) * usable).toBeLessThan(streams);
        },
      ),
    );
  });

  it('prices a task by vCPU and GB hours', () => {
    expect(taskHourly(1024, 2048, 0.04048, 0.004445)).toBeCloseTo(0.04937, 6);
    expect(taskHourly(2048, 4096, 0.012144, 0.0013335)).toBeCloseTo(0.029622, 6);
  });

  it('splits tasks like an ECS base + weight strategy', () => {
    expect(strategySplit(10, 2, 1, 3)).toEqual({ onDemand: 4, spot: 6 });
    expect(strategySplit(1, 2, 1, 3)).toEqual({ onDemand: 1, spot: 0 });
    expect(strategySplit(6, 0, 0, 1)).toEqual({ onDemand: 0, spot: 6 });
  });

  it('averages peak and baseline tasks over the day', () => {
    expect(averageTasks(10, 2, 8)).toBeCloseTo(2 + 8 / 3, 10);
    expect(averageTasks(10, 2, 24)).toBe(10);
  });

  it('adds fixed costs to every monthly figure', () => {
    const config = {
      minTasks: 2,
      maxTasks: 10,
      taskCpu: 1024,
      taskMemory: 2048,
      onDemandBase: 2,
      onDemandWeight: 0,
      spotWeight: 1,
      priceFargateVcpuHour: '0.04',
      priceFargateGbHour: '0.005',
      priceSpotVcpuHour: '0.01',
      priceSpotGbHour: '0.001',
      priceFixedMonthly: '100',
    };
    const plan = planStack(
      {
        usersPerDay: 10_000,
        peakConcurrencyRatio: 0.1,
        answerTokens: 500,
        tokensPerSecond: 50,
        thinkSeconds: 30,
        streamsPerTask: 100,
        utilization: 0.5,
        peakHours: 24,
      },
      config,
    );
    // 1000 active users x 1/4 = 250 streams; 250 / 50 = 5 tasks all day.
    expect(plan.peakTasks).toBe(5);
    expect(plan.monthly.onDemand).toBeCloseTo(5 * 0.05 * HOURS_PER_MONTH + 100, 6);
    expect(plan.monthly.spot).toBeCloseTo(5 * 0.012 * HOURS_PER_MONTH + 100, 6);
    expect(plan.monthly.configuredMix).toBeCloseTo(
      (2 * 0.05 + 3 * 0.012) * HOURS_PER_MONTH + 100,
      6,
    );
  });
});

describe('npm run capacity', () => {
  let benchFile: string;

  beforeAll(() => {
    benchFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'capacity-')), 'latest.json');
    fs.writeFileSync(benchFile, JSON.stringify({ streamsPerTask: 800 }));
  });

  it('reads streamsPerTask from the bench results and plans both stacks from their YAML', async () => {
    const result = await runScript('capacity.mjs', [
      '--users-per-day',
      '100000',
      '--bench-file',
      benchFile,
      '--json',
    ]);
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.streamsPerTaskSource).toBe(benchFile);
    expect(out.demand.streams).toBe(2500); // 10000 active x 10 / (10 + 30)
    // ceil(2500 / (800 x 0.7)) = 5 tasks; dev's maxTasks (3) is too low for that.
    expect(out.plans.dev).toMatchObject({ peakTasks: 5, exceedsMaxTasks: true });
    expect(out.plans.prod).toMatchObject({
      peakTasks: 5,
      exceedsMaxTasks: false,
      taskCpu: 2048,
      taskMemory: 4096,
    });
    for (const plan of Object.values<{ monthly: { onDemand: number; spot: number } }>(out.plans)) {
      expect(plan.monthly.spot).toBeLessThan(plan.monthly.onDemand);
    }
  });

  it('prefers an explicit --streams-per-task and prints a readable report', async () => {
    const result = await runScript('capacity.mjs', [
      '--users-per-day',
      '1000',
      '--streams-per-task',
      '50',
      '--stack',
      'prod',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Per-task capacity: 50 streams (--streams-per-task)');
    expect(result.stdout).toMatch(/\[prod\] .* tasks at peak/);
    expect(result.stdout).not.toContain('[dev]');
    expect(result.stdout).toMatch(/on-demand \$\d+ \| Spot \$\d+ \| configured mix \$\d+/);
  });

  it('explains how to get the per-task capacity when it is unknown', async () => {
    const result = await runScript('capacity.mjs', [
      '--users-per-day',
      '1000',
      '--bench-file',
      path.join(os.tmpdir(), 'nope.json'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('npm run bench');
  });

  it('rejects a peak ratio above 1', async () => {
    const result = await runScript('capacity.mjs', [
      '--users-per-day',
      '1000',
      '--streams-per-task',
      '5',
      '--peak-ratio',
      '1.5',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--peak-ratio');
  });
});

/** A tiny OpenAI-compatible SSE endpoint: every 5th request fails with 500, the 7th errors mid-stream. */
function startFakeGateway(): Promise<{
  url: string;
  stats: { seen: number; maxConcurrent: number; auth: Set<string> };
  close: () => Promise<void>;
}> {
  const stats = { seen: 0, maxConcurrent: 0, auth: new Set<string>() };
  let open = 0;
  const chunk = (content: string) =>
    `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
  const server = http.createServer((req, res) => {
    const index = ++stats.seen;
    stats.auth.add(String(req.headers.authorization));
    open++;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, open);
    res.on('close', () => open--);
    req.resume();
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    if (index % 5 === 0) {
      res
        .writeHead(500, { 'content-type': 'application/json' })
        .end('{"error":{"code":"internal"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': keep-alive\n\n');
    setTimeout(() => {
      res.write(chunk('Hello'));
      if (index === 7) {
        res.write(
          `data: ${JSON.stringify({ error: { code: 'upstream_error', message: 'boom' } })}\n\n`,
        );
        res.end('data: [DONE]\n\n');
        return;
      }
      setTimeout(() => {
        res.write(chunk(' world'));
        res.write(chunk('!'));
        res.end('data: [DONE]\n\n');
      }, 5);
    }, 40);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        stats,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

describe('npm run load-test', () => {
  it('drives bounded concurrent streams and reports TTFT percentiles and the error rate', async () => {
    const gateway = await startFakeGateway();
    try {
      const result = await runScript('load-test.mjs', [
        '--url',
        gateway.url,
        '--key',
        'test-key',
        '--concurrency',
        '4',
        '--requests',
        '20',
        '--duration',
        '30',
        '--json',
      ]);
      expect(result.code).toBe(0);
      const summary = JSON.parse(result.stdout);
      expect(summary).toMatchObject({
        completed: 20,
        ok: 15,
        errors: 5,
        errorRate: 0.25,
        concurrency: 4,
      });
      expect(summary.errorKinds).toEqual({ 'HTTP 500': 4, 'stream error: upstream_error': 1 });
      expect(summary.chunks).toBe(15 * 3 + 1);
      expect(summary.ttftMs.p50).toBeGreaterThanOrEqual(35);
      expect(summary.ttftMs.p99).toBeGreaterThanOrEqual(summary.ttftMs.p50);
      expect(gateway.stats.seen).toBe(20);
      expect(gateway.stats.maxConcurrent).toBeLessThanOrEqual(4);
      expect(gateway.stats.maxConcurrent).toBeGreaterThan(1);
      expect([...gateway.stats.auth]).toEqual(['Bearer test-key']);
    } finally {
      await gateway.close();
    }
  });

  it('refuses non-loopback targets unless --allow-remote is given', async () => {
    const result = await runScript('load-test.mjs', [
      '--url',
      'https://api.example.com',
      '--key',
      'k',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('without --allow-remote');
  });

  it('rejects unbounded concurrency', async () => {
    const result = await runScript('load-test.mjs', [
      '--url',
      'http://127.0.0.1:9',
      '--key',
      'k',
      '--concurrency',
      '100000',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--concurrency');
  });

  it('recognises loopback hosts and computes nearest-rank percentiles', () => {
    expect(
      ['http://localhost:8080', 'http://127.0.0.1', 'http://[::1]:80'].map(isLoopback),
    ).toEqual([true, true, true]);
    expect(isLoopback('https://d111.cloudfront.net')).toBe(false);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 99)).toBe(40);
    expect(percentile([], 50)).toBeUndefined();
  });
});

describe('rollback target selection', () => {
  const update = (version: number, result: string, tag: string) => ({
    version,
    kind: 'update',
    result,
    config: { 'switchboard:imageTag': { value: tag, secret: false } },
  });

  it('picks the most recent successful tag that differs from the current one', () => {
    const history = [
      update(3, 'succeeded', 'ccc'),
      update(2, 'succeeded', 'bbb'),
      update(1, 'succeeded', 'aaa'),
    ];
    expect(previousImageTag(history, 'ccc')).toBe('bbb');
  });

  it('skips failed updates and non-update operations', () => {
    const history = [
      update(4, 'failed', 'ddd'),
      {
        version: 3,
        kind: 'refresh',
        result: 'succeeded',
        config: { 'switchboard:imageTag': { value: 'zzz' } },
      },
      update(2, 'succeeded', 'bbb'),
      update(1, 'succeeded', 'aaa'),
    ];
    expect(previousImageTag(history, 'ddd')).toBe('bbb');
    expect(previousImageTag([update(1, 'succeeded', 'aaa')], 'aaa')).toBeUndefined();
  });
});

describe('ops scripts without their CLIs', () => {
  // PATH holding only node: git, docker, pulumi and aws are all missing.
  const env = { ...process.env, PATH: path.dirname(process.execPath) };

  it.each([
    ['deploy.mjs', ['--stack', 'dev'], 'git'],
    ['rollback.mjs', ['--stack', 'prod'], 'pulumi'],
    ['logs.mjs', ['--stack', 'dev', '--once'], 'aws'],
  ])('%s fails with a clear message naming the missing CLI', async (script, args, cli) => {
    const result = await runScript(script, args, env);
    expect(result.code).toBe(127);
    expect(result.stderr).toContain(`'${cli}' is not installed or not on PATH`);
  });

  it('requires --stack before touching any CLI', async () => {
    const result = await runScript('deploy.mjs', [], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--stack is required');
  });
});
