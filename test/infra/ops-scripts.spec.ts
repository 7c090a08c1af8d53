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
  benchMeasurements,
  peakStreams,
  planStack,
  strategySplit,
  streamsPerTask,
  taskHourly,
  tasksNeeded,
  type StackPlan,
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

  it('sizes a task by measured CPU per streamed token or memory per stream, whichever binds', () => {
    const bench = { cpuMsPer1kTokens: 100, rssPerStreamKiB: 100, baseRssMiB: 500 };
    // CPU: 50 tok/s x 100 ms / 1000 tokens = 0.005 vCPU per stream; 1 vCPU x 0.7 / 0.005 = 140.
    // Memory: (2048 x 0.7 - 500) MiB / (1.5 x 100 KiB) = 6373.
    expect(
      streamsPerTask({ cpu: 1024, memoryMiB: 2048, tokensPerSecond: 50, utilization: 0.7 }, bench),
    ).toEqual({ byCpu: 140, byMemory: 6373, value: 140, binds: 'cpu' });
    // A fat idle process in a small task: (716.8 - 700) MiB / 0.1465 MiB = 114, memory binds.
    expect(
      streamsPerTask(
        { cpu: 4096, memoryMiB: 1024, tokensPerSecond: 50, utilization: 0.7 },
        { ...bench, baseRssMiB: 700 },
      ),
    ).toMatchObject({ byMemory: 114, value: 114, binds: 'memory' });
  });

  it('reads the measurements from the results file the benchmark writes', () => {
    const results = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'bench', 'results', 'latest.json'), 'utf8'),
    );
    const m = benchMeasurements(results);
    expect(m.cpuMsPer1kTokens).toBe(results.gatewayCpu.msPer1kStreamedTokens);
    expect(m.rssPerStreamKiB).toBeGreaterThan(0);
    expect(m.baseRssMiB).toBeGreaterThan(0);
    expect(() => benchMeasurements({ rows: [] })).toThrow(/no usable cpuMsPer1kTokens/);
  });
});

/**
 * The model pinned against a table computed by hand (round prices and measurements so every
 * line can be checked on paper). 1 month = 730 h = 30.4167 days; requests/month =
 * users x 10 x 30.4167; the day has 8 active hours, 4 of them at peak.
 */
describe('capacity model against a hand-computed table', () => {
  const bench = { cpuMsPer1kTokens: 100, rssPerStreamKiB: 100, baseRssMiB: 500 };
  const prices = {
    asOf: 'fixture',
    freeTier: {
      cloudwatchMetrics: 10,
      cloudwatchAlarms: 10,
      cloudwatchDashboards: 3,
      cloudwatchLogsGb: 5,
      cloudfrontGb: 1000,
      cloudfrontRequests: 10_000_000,
    },
    global: {
      wafWebAclMonth: 5,
      wafRuleMonth: 1,
      wafPerMillionRequests: 0.6,
      cloudfrontPerGbOut: 0.08,
      cloudfrontPer10kHttpsRequests: 0.01,
      cloudfrontPerGbToOrigin: 0.02,
    },
    regions: {
      'eu-west-1': {
        fargateVcpuHour: { X86_64: 0.04, ARM64: 0.032 },
        fargateGbHour: { X86_64: 0.004, ARM64: 0.0032 },
        spotVcpuHour: { X86_64: 0.01, ARM64: 0.008 },
        spotGbHour: { X86_64: 0.001, ARM64: 0.0008 },
        albHour: 0.02,
        albLcuHour: 0.01,
        natHour: 0.05,
        natPerGb: 0.05,
        publicIpv4Hour: 0.005,
        interfaceEndpointHour: 0.01,
        interfaceEndpointPerGb: 0.01,
        auroraAcuHour: 0.1,
        auroraStorageGbMonth: 0.1,
        auroraPerMillionIo: 0.2,
        valkeyGbHour: 0.1,
        valkeyPerMillionEcpu: 0.002,
        valkeyMinGb: 0.1,
        logsIngestPerGb: 0.5,
        logsStorePerGbMonth: 0.03,
        metricMonth: 0.3,
        alarmMonth: 0.1,
        dashboardMonth: 3,
        secretMonth: 0.4,
        ecrGbMonth: 0.1,
        s3GbMonth: 0.02,
      },
    },
  };
  const workload = (usersPerDay: number) => ({
    usersPerDay,
    requestsPerUser: 10,
    peakConcurrencyRatio: 0.1,
    answerTokens: 500,
    tokensPerSecond: 50,
    thinkSeconds: 30,
    activeHours: 8,
    peakHours: 4,
    requestKb: 8,
    responseBytesPerToken: 200,
    dbAcuSecondsPerRequest: 0.02,
    cacheEcpuPerRequest: 10,
    dbIoPerRequest: 10,
    dbKbPerRequest: 2,
    logKbPerRequest: 1,
    imageStoreGb: 1,
    utilization: 0.7,
  });
  const dev = {
    'aws:region': 'eu-west-1',
    cpuArchitecture: 'X86_64',
    taskCpu: 512,
    taskMemory: 1024,
    minTasks: 1,
    maxTasks: 1,
    onDemandBase: 0,
    onDemandWeight: 0,
    spotWeight: 1,
    taskNetworking: 'public',
    natGatewayPerAz: false,
    azCount: 2,
    interfaceEndpoints: false,
    dbMinCapacity: '0',
    dbInstances: 1,
    cacheEnabled: false,
    adminOpen: true,
    containerInsights: 'disabled',
    logRetentionDays: 14,
    providerSecrets: ['OPENAI_API_KEY'],
  };
  const prod = {
    ...dev,
    taskCpu: 1024,
    taskMemory: 2048,
    minTasks: 2,
    maxTasks: 30,
    onDemandBase: 1,
    onDemandWeight: 1,
    spotWeight: 3,
    taskNetworking: 'private',
    natGatewayPerAz: true,
    dbMinCapacity: '0.5',
    dbInstances: 2,
    cacheEnabled: true,
    adminOpen: false,
    containerInsights: 'enhanced',
    logRetentionDays: 90,
    providerSecrets: ['OPENAI_API_KEY', 'GEMINI_API_KEY'],
  };

  // Hand-computed, USD per month (no free tier).
  const expected = {
    'dev 1k': {
      tasks: [70, 1, 1],
      // 1 Spot task x (0.5 x 0.01 + 1 x 0.001) x 730
      'Fargate Spot': 4.38,
      'Fargate on-demand': 0,
      // one task IP x 0.005 x 730
      'Public IPv4 (task IPs, NAT EIPs)': 3.65,
      'NAT gateways': 0,
      // 0.02 x 730 + (1250 req/h x 108 KB = 0.135 LCU) x 243.33 h x 0.01
      ALB: 14.9285,
      // 0.5 ACU x 243.33 awake h x 0.1
      'Aurora ACUs': 12.1667,
      // (1 + 0.608 GB) x 0.1 + 3.042 M I/O x 0.2
      'Aurora storage and I/O': 0.7692,
      'Valkey serverless': 0,
      // 30.42 GB x 0.08 + 30.42 x 10k req x 0.01 + 2.433 GB x 0.02
      CloudFront: 2.7862,
      // 5 + 5 rules + 0.304 M x 0.6
      WAF: 10.1825,
      // 0.9125 GB x 0.5 + 0.426 GB x 0.03 + 7 x 0.3 + 16 x 0.1 + 3
      CloudWatch: 7.169,
      'Secrets Manager': 1.6,
      'ECR and S3': 0.1183,
      total: 57.7503,
    },
    'prod 1k': {
      tasks: [140, 2, 2],
      // base 1 on-demand + 1/4 of the rest: 1.25 x (0.04 + 2 x 0.004) x 730; 0.75 x 0.012 x 730
      'Fargate on-demand': 43.8,
      'Fargate Spot': 6.57,
      'Public IPv4 (task IPs, NAT EIPs)': 7.3,
      // 2 x 0.05 x 730 + (32.85 GB traffic + 0.9125 GB logs) x 0.05
      'NAT gateways': 74.6881,
      ALB: 14.9285,
      // 2 instances x 0.5 ACU x 730 h x 0.1
      'Aurora ACUs': 73,
      'Aurora storage and I/O': 0.7692,
      // 0.1 GB x 0.1 x 730 + 3.042 M ECPU x 0.002
      'Valkey serverless': 7.3061,
      CloudFront: 2.7862,
      WAF: 11.1825,
      // 0.456 + 0.9125 x 3 x 0.03 + 37 x 0.3 + 19 x 0.1 + 3
      CloudWatch: 16.5384,
      'Secrets Manager': 2,
      'ECR and S3': 0.1183,
      total: 260.9872,
    },
    'dev 50k': {
      // 1250 streams / 70 = 18 tasks at peak (above maxTasks 1), 1 + 17 x 4/24 on average
      tasks: [70, 18, 3.8333],
      'Fargate Spot': 16.79,
      'Public IPv4 (task IPs, NAT EIPs)': 13.9917,
      ALB: 31.025,
      'Aurora ACUs': 12.1667,
      'Aurora storage and I/O': 33.5583,
      CloudFront: 139.3083,
      WAF: 19.125,
      CloudWatch: 30.1513,
      total: 298.7288,
    },
    'prod 50k': {
      tasks: [140, 9, 3.1667],
      'Fargate on-demand': 54.02,
      'Fargate Spot': 14.235,
      'NAT gateways': 157.4062,
      'Aurora ACUs': 73,
      'Valkey serverless': 7.6042,
      CloudWatch: 42.9187,
      total: 583.5133,
    },
  };

  it.each([
    ['dev 1k', dev, 1000],
    ['prod 1k', prod, 1000],
    ['dev 50k', dev, 50_000],
    ['prod 50k', prod, 50_000],
  ] as const)('%s matches the table', (name, config, users) => {
    const plan = planStack(workload(users), config, prices, bench, { freeTier: false });
    const want = expected[name] as Record<string, number | number[]>;
    const [perTask, peak, avg] = want.tasks as number[];
    expect(plan.streamsPerTask.value).toBe(perTask);
    expect(plan.peakTasks).toBe(peak);
    expect(plan.averageTasks).toBeCloseTo(avg, 4);
    const byItem = Object.fromEntries(plan.lines.map((l) => [l.item, l.monthly]));
    for (const [item, value] of Object.entries(want)) {
      if (item === 'tasks' || item === 'total') continue;
      expect([item, byItem[item]]).toEqual([item, expect.closeTo(value as number, 3)]);
    }
    expect(plan.total).toBeCloseTo(want.total as number, 3);
  });

  it('subtracts the always-free CloudWatch and CloudFront allowances unless told not to', () => {
    const withTier = planStack(workload(1000), dev, prices, bench);
    const byItem = Object.fromEntries(withTier.lines.map((l) => [l.item, l.monthly]));
    // 7 metrics and 1 dashboard are free, 6 of 16 alarms are paid; logs under 5 GB are free.
    expect(byItem.CloudWatch).toBeCloseTo(0.012775 + 0.6, 4);
    // 30 GB and 0.3 M requests are inside the free allowance; only the origin fetch is paid.
    expect(byItem.CloudFront).toBeCloseTo(0.048667, 4);
  });

  it('keeps every price the model reads in the committed table, for every region, dated', () => {
    const table = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'scripts', 'ops', 'prices.json'), 'utf8'),
    );
    expect(table.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const [region, p] of Object.entries<Record<string, unknown>>(table.regions))
      expect([region, Object.keys(p).sort()]).toEqual([
        region,
        Object.keys(prices.regions['eu-west-1']).sort(),
      ]);
    expect(Object.keys(table.global).sort()).toEqual(Object.keys(prices.global).sort());
  });
});

describe('npm run capacity', () => {
  let benchFile: string;

  beforeAll(() => {
    benchFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'capacity-')), 'latest.json');
    fs.writeFileSync(
      benchFile,
      JSON.stringify({
        date: '2026-01-01T00:00:00.000Z',
        gatewayCpu: { msPer1kStreamedTokens: 100 },
        rows: [
          { name: 'RSS per open stream', gateway: 100 },
          { name: 'gateway RSS before idle streams', gateway: 500 },
        ],
      }),
    );
  });

  it('prices dev at most $60 at 1,000 users/day and prints every line item', async () => {
    const result = await runScript('capacity.mjs', ['--users-per-day', '1000']);
    expect(result.code).toBe(0);
    const dev = result.stdout.slice(
      result.stdout.indexOf('[dev]'),
      result.stdout.indexOf('[prod]'),
    );
    for (const item of [
      'Fargate Spot',
      'ALB',
      'Aurora ACUs',
      'WAF',
      'CloudFront',
      'CloudWatch',
      'NAT gateways',
    ])
      expect(dev).toContain(item);
    const total = Number(/Total per month\s+\$([\d.]+)/.exec(dev)?.[1]);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(60);
    expect(result.stdout).toContain('prices.json as of');
  });

  it('sizes from the bench file and grows with users per day', async () => {
    const plan = async (users: string) => {
      const result = await runScript('capacity.mjs', [
        '--users-per-day',
        users,
        '--bench-file',
        benchFile,
        '--json',
      ]);
      expect(result.code).toBe(0);
      return JSON.parse(result.stdout) as {
        bench: Record<string, unknown>;
        plans: Record<string, StackPlan>;
      };
    };
    const small = await plan('1000');
    const large = await plan('50000');
    expect(small.bench).toMatchObject({ file: benchFile, cpuMsPer1kTokens: 100 });
    expect(small.plans.prod.streamsPerTask).toMatchObject({ byCpu: 140, binds: 'cpu' });
    expect(large.plans.prod.peakTasks).toBeGreaterThan(small.plans.prod.peakTasks);
    expect(large.plans.dev.exceedsMaxTasks).toBe(true);
    for (const stack of ['dev', 'prod'])
      expect(large.plans[stack].total).toBeGreaterThan(small.plans[stack].total);
  });

  it('explains how to get the measurements when they are missing', async () => {
    const result = await runScript('capacity.mjs', [
      '--users-per-day',
      '1000',
      '--bench-file',
      path.join(os.tmpdir(), 'nope.json'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('npm run bench');
  });

  it('rejects a peak ratio above 1 and peak hours beyond the active hours', async () => {
    const ratio = await runScript('capacity.mjs', [
      '--users-per-day',
      '1000',
      '--peak-ratio',
      '1.5',
    ]);
    expect(ratio.code).toBe(2);
    expect(ratio.stderr).toContain('--peak-ratio');
    const hours = await runScript('capacity.mjs', [
      '--users-per-day',
      '1000',
      '--active-hours',
      '6',
      '--peak-hours',
      '8',
    ]);
    expect(hours.code).toBe(2);
    expect(hours.stderr).toContain('--peak-hours');
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
