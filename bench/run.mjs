#!/usr/bin/env node
/**
 * Switchboard benchmark: the same requests straight to the simulator and
 * through the gateway, side by side in one run.
 *
 *   npm run bench                     full run (~3-4 min)
 *   node bench/run.mjs --quick        ~1 min, shorter load phases
 *   node bench/run.mjs --cpu-prof     also profile the gateway under c=64 streaming
 *   node bench/run.mjs --only=peers,stream,throughput,providers,auth,idle,boot
 *   node bench/run.mjs --dist=<dir>   use another build output (default ./dist)
 *   node bench/run.mjs --no-save      print only
 *
 * Simulator, gateway(s) and the load generator are separate processes. Results:
 * bench/results/<timestamp>.json and bench/results/latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './lib/cpu-profile.mjs';
import {
  fileLimit,
  snapshotDist,
  startGateway,
  startLoadWorker,
  startSimulator,
  stop,
} from './lib/processes.mjs';
import { round } from './lib/stats.mjs';
import { createBenchDatabase } from './lib/postgres.mjs';
import {
  BENCH_LIMIT_ENV,
  authLimitsCost,
  bootToReady,
  idleStreams,
  nonStreamingThroughput,
  openAiTargets,
  peerComparison,
  providerLatency,
  provisionApiKey,
  renderPeerTable,
  streamingLatency,
  streamsPerTask,
} from './scenarios.mjs';
import { startFloorProxy, startPortkey } from './lib/peers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

function parseArgs(argv) {
  const opts = {
    quick: false,
    cpuProf: false,
    save: true,
    dist: path.join(root, 'dist'),
    only: undefined,
  };
  for (const a of argv) {
    if (a === '--quick') opts.quick = true;
    else if (a === '--cpu-prof') opts.cpuProf = true;
    else if (a === '--no-save') opts.save = false;
    else if (a.startsWith('--dist=')) opts.dist = path.resolve(a.slice(7));
    else if (a.startsWith('--only=')) opts.only = new Set(a.slice(7).split(','));
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${readHelp()}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return opts;
}

function readHelp() {
  return 'usage: node bench/run.mjs [--quick] [--cpu-prof] [--only=peers,stream,throughput,providers,auth,idle,boot] [--dist=dir] [--no-save]';
}

/**
 * Load plan. Streams are paced at 200 tokens/s (5 ms gaps) at c=1 and c=64; c=1
 * streams are 20 tokens (100 ms each) so its TTFT p99 rests on ~100 samples
 * rather than a handful. At c=512 pacing drops to 20 tokens/s (50 ms gaps) so
 * the aggregate token rate stays near the c=64 level (~10-13k tokens/s): on a
 * 2-core machine 512 x 200 tok/s would measure CPU starvation of all three
 * processes, not the gateway.
 */
function plan(quick) {
  return {
    warmupMs: quick ? 1_500 : 3_000,
    // durationMs is per target, split into `rounds` interleaved slices.
    streams: [
      {
        concurrency: 1,
        tokens: 20,
        tps: 200,
        durationMs: quick ? 3_000 : 12_000,
        rounds: quick ? 2 : 3,
      },
      {
        concurrency: 64,
        tokens: 50,
        tps: 200,
        durationMs: quick ? 4_000 : 12_000,
        rounds: quick ? 2 : 3,
      },
      {
        concurrency: 512,
        tokens: 50,
        tps: 20,
        durationMs: quick ? 6_000 : 15_000,
        rounds: quick ? 2 : 3,
      },
    ],
    throughput: { concurrency: 20, durationMs: quick ? 3_000 : 8_000, rounds: 2 },
    // direct, floor proxy, Portkey and Switchboard (API key, admin key), interleaved
    peers: {
      // c=1: about 300 samples per target, so p99 is not just the second-slowest
      c1: { concurrency: 1, tokens: 20, tps: 200, durationMs: quick ? 3_000 : 30_000 },
      c64: { concurrency: 64, tokens: 50, tps: 200, durationMs: quick ? 3_000 : 10_000 },
      throughputLoad: { concurrency: 20, durationMs: quick ? 2_000 : 10_000 },
      rounds: quick ? 2 : 5,
    },
    // c=1, 5 tokens at once: hundreds of TTFT samples per target
    providers: { concurrency: 1, durationMs: quick ? 2_000 : 6_000, rounds: quick ? 2 : 3 },
    auth: { concurrency: 1, durationMs: quick ? 3_000 : 8_000, rounds: quick ? 2 : 4 },
    idle: { count: 5_000 },
    bootRuns: 3,
  };
}

const TARGETS = {
  ttftAddedP99Ms: 2,
  // issue 4: auth + rate limits + budget hold with Redis on loopback
  authLimitsAddedP99Ms: 1,
  chunkAddedP99Ms: 0.2,
  streams: 5_000,
  rssPerStreamKiB: 40,
  bootMs: 1_500,
};

/**
 * The gateway's own CPU cost (server CPU through the gateway minus straight to
 * the simulator), as a capacity hint next to the memory-based streamsPerTask.
 */
function gatewayCpu(rows) {
  const stream = rows.find((r) => r.name === 'openai stream c=64 server CPU per 1k tokens');
  const request = rows.find(
    (r) => r.name.startsWith('openai non-stream') && r.name.endsWith('server CPU per request'),
  );
  const per1k = stream?.delta;
  return {
    msPer1kStreamedTokens: per1k ?? null,
    streamedTokensPerCpuSecond: per1k > 0 ? Math.round(1_000_000 / per1k) : null,
    msPerNonStreamRequest: request?.delta ?? null,
  };
}

/** One catalogue model per provider, each served by the simulator through that provider's SDK. */
const PROVIDER_MODELS = [
  { provider: 'openai', model: 'gpt-4o-mini' },
  { provider: 'azure-openai', model: 'azure-gpt-4o-mini' },
  { provider: 'bedrock', model: 'bedrock-claude-haiku-4-5' },
  { provider: 'gemini', model: 'gemini-2.5-flash' },
];

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Short closed-loop streams through `gw` with `headers`, so JIT and caches are warm. */
async function warmUp(ctx, gw, headers, model, ms) {
  const { completionsBody, simDirective, target } = await import('./lib/load-client.mjs');
  await ctx.load.call('streamLatency', {
    tgt: target('warm-up', gw.port, headers),
    path: '/v1/chat/completions',
    body: completionsBody({ model, directive: simDirective({ tokens: 5 }), stream: true }),
    concurrency: 4,
    durationMs: ms,
  });
}

/**
 * Auth + limits + budget-hold cost on a scale-out gateway: Redis for limits and
 * holds, a fresh PostgreSQL database (created and dropped here) for keys,
 * budgets and the ledger.
 */
async function authCostScaleOut(ctx, p, log) {
  const db = await createBenchDatabase();
  let gw;
  try {
    gw = await startGateway(ctx.dist, ctx.sim.url, {
      env: {
        ...BENCH_LIMIT_ENV,
        REDIS_URL,
        DATABASE_URL: db.url,
        API_KEY_SECRET: `bench-api-key-secret-${process.pid}-0123456789abcdef`,
      },
    });
    log(`  scale-out gateway pid ${gw.pid}: Redis ${REDIS_URL}, PostgreSQL database ${db.name}`);
    const apiKey = await provisionApiKey(gw, { label: 'redis' });
    await warmUp(ctx, gw, gw.headers, 'gpt-4o-mini', 1_000);
    await warmUp(ctx, gw, { authorization: `Bearer ${apiKey.key}` }, 'gpt-4o-mini', 1_000);
    return await authLimitsCost(ctx, {
      gw,
      mode: 'Redis + PostgreSQL',
      apiKey,
      ...p.auth,
      ttftTarget: { on: 'delta', max: TARGETS.authLimitsAddedP99Ms },
    });
  } finally {
    await stop(gw?.child);
    await db.drop();
  }
}

function gitHead() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

function fmt(v) {
  if (v === null || v === undefined) return '-';
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  if (Math.abs(v) >= 100) return v.toFixed(1);
  return v.toFixed(2);
}

function targetText(t) {
  if (!t) return '';
  const bound = t.max !== undefined ? `<= ${t.max}` : `>= ${t.min}`;
  return `${t.on === 'delta' ? 'delta' : t.on} ${bound}`;
}

export function renderTable(rows) {
  const head = ['metric', 'direct', 'gateway', 'delta', 'unit', 'target', 'result'];
  const body = rows.map((r) => [
    r.name,
    fmt(r.direct),
    fmt(r.gateway),
    fmt(r.delta),
    r.unit,
    targetText(r.target),
    r.pass === undefined ? '' : `${r.pass ? 'PASS' : 'MISS'} (margin ${fmt(r.margin)})`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 || i >= 4 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Runs `workload(ctx)` against a fresh gateway started with --cpu-prof; returns the profile summary. */
async function profileGateway(ctx, workload) {
  const profDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-prof-'));
  try {
    const gw = await startGateway(ctx.dist, ctx.sim.url, {
      nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    });
    await workload({ ...ctx, gateway: gw });
    await stop(gw.child, 15_000); // the profile is written on exit
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    return file ? summarizeProfile(path.join(profDir, file)) : undefined;
  } finally {
    rmSync(profDir, { recursive: true, force: true });
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const p = plan(opts.quick);
  const started = new Date();
  // The checkout's commit when the run began; a --dist build may come from elsewhere.
  const headAtStart = gitHead();
  const t0 = performance.now();
  const rows = [];
  const raw = {};
  const want = (k) => !opts.only || opts.only.has(k);
  const machine = {
    cpus: os.cpus().length,
    memGiB: round(os.totalmem() / 2 ** 30, 1),
    cpuModel: os.cpus()[0]?.model,
    loadavgAtStart: os.loadavg().map((l) => round(l, 2)),
  };
  log(
    `Switchboard benchmark (${opts.quick ? 'quick' : 'full'}) — node ${process.version}, ${machine.cpus} CPUs, ${machine.memGiB} GiB, load avg ${machine.loadavgAtStart.join(' ')}`,
  );
  const dist = snapshotDist(root, opts.dist);
  log(`build: ${opts.dist} (running from a copy, ${path.relative(root, dist)})`);

  const sim = await startSimulator(dist);
  const load = startLoadWorker(path.join(here, 'load-worker.mjs'));
  let gateway;
  let peers;
  let streamsCapacity = null;
  try {
    gateway = await startGateway(dist, sim.url, { env: BENCH_LIMIT_ENV });
    const ctx = { sim, gateway, load, dist, log };
    machine.openFileLimit = fileLimit(gateway.pid);
    log(
      `simulator pid ${sim.pid} (${sim.url}), gateway pid ${gateway.pid} (${gateway.url}), load worker pid ${load.pid}; open-file limit ${machine.openFileLimit}`,
    );

    if (want('stream') || want('throughput')) {
      log(`warm-up ${p.warmupMs} ms per target`);
      const t = openAiTargets(ctx);
      for (const tgt of [t.direct, t.gateway]) {
        const { completionsBody, simDirective } = await import('./lib/load-client.mjs');
        const body = completionsBody({
          model: 'gpt-4o-mini',
          directive: simDirective({ tokens: 20, tps: 400 }),
          stream: true,
        });
        await load.call('streamLatency', {
          tgt,
          path: '/v1/chat/completions',
          body,
          concurrency: 16,
          durationMs: p.warmupMs,
        });
        const body2 = completionsBody({
          model: 'gpt-4o-mini',
          directive: simDirective({}),
          stream: false,
        });
        await load.call('throughput', {
          tgt,
          path: '/v1/chat/completions',
          body: body2,
          concurrency: 8,
          durationMs: p.warmupMs / 3,
        });
      }
    }

    if (want('stream')) {
      for (const level of p.streams) {
        log(
          `streaming, concurrency ${level.concurrency}, ${level.tokens} tokens at ${level.tps} tok/s, ` +
            `${level.durationMs} ms per target in ${level.rounds} interleaved rounds`,
        );
        const r = await streamingLatency(ctx, {
          ...level,
          ttftTarget:
            level.concurrency === 64 ? { on: 'delta', max: TARGETS.ttftAddedP99Ms } : undefined,
          chunkTarget: { on: 'delta', max: TARGETS.chunkAddedP99Ms },
        });
        rows.push(...r.rows);
        raw[`stream_c${level.concurrency}`] = r.raw;
      }
    }

    if (want('throughput')) {
      log(
        `non-streaming throughput, ${p.throughput.concurrency} clients, ` +
          `${p.throughput.durationMs} ms per target in ${p.throughput.rounds} interleaved rounds`,
      );
      const r = await nonStreamingThroughput(ctx, p.throughput);
      rows.push(...r.rows);
      raw.throughput = r.raw;
    }

    if (want('peers')) {
      log(
        'peers: direct, floor proxy, Portkey, Switchboard (API key with limits and budget; admin key), ' +
          `${p.peers.rounds} interleaved rounds per load`,
      );
      const floor = await startFloorProxy(sim.url);
      const portkey = await startPortkey(sim.url);
      try {
        log(
          `  floor proxy pid ${floor.pid} (${floor.url}), Portkey pid ${portkey.pid} (${portkey.url})`,
        );
        const apiKey = await provisionApiKey(gateway, { label: 'peers' });
        const { completionsBody, simDirective, target } = await import('./lib/load-client.mjs');
        const warmTargets = [
          target('floor', floor.port, floor.headers),
          target('portkey', portkey.port, portkey.headers),
          target('switchboard', gateway.port, { authorization: `Bearer ${apiKey.key}` }),
        ];
        for (const tgt of warmTargets) {
          for (const stream of [true, false])
            await load.call(stream ? 'streamLatency' : 'throughput', {
              tgt,
              path: '/v1/chat/completions',
              body: completionsBody({
                model: 'gpt-4o-mini',
                directive: simDirective({ tokens: 20, tps: stream ? 400 : 0 }),
                stream,
              }),
              concurrency: 16,
              durationMs: p.warmupMs / 2,
            });
        }
        const r = await peerComparison(ctx, { floor, portkey, apiKey, ...p.peers });
        peers = r;
        raw.peers = r.raw;
      } finally {
        await stop(floor.child);
        await stop(portkey.child);
      }
    }

    if (want('providers')) {
      log(
        `per-provider TTFT through the gateway (bootstrap admin key), c=${p.providers.concurrency}, 5 tokens at once, ` +
          `${p.providers.durationMs} ms per target in ${p.providers.rounds} interleaved rounds; baseline: openai direct`,
      );
      for (const m of PROVIDER_MODELS) await warmUp(ctx, gateway, gateway.headers, m.model, 700);
      const r = await providerLatency(ctx, { providers: PROVIDER_MODELS, ...p.providers });
      rows.push(...r.rows);
      raw.providers = r.raw;
    }

    if (want('auth')) {
      log(
        `auth + limits + budget hold: bootstrap admin key vs API key ($1000/day budget), c=${p.auth.concurrency}, ` +
          `${p.auth.durationMs} ms per key in ${p.auth.rounds} interleaved rounds`,
      );
      const apiKey = await provisionApiKey(gateway, { label: 'embedded' });
      await warmUp(ctx, gateway, { authorization: `Bearer ${apiKey.key}` }, 'gpt-4o-mini', 1_000);
      const r = await authLimitsCost(ctx, { gw: gateway, mode: 'in-process', apiKey, ...p.auth });
      rows.push(...r.rows);
      raw.authInProcess = r.raw;
    }
    await stop(gateway.child);

    if (want('auth')) {
      const r = await authCostScaleOut(ctx, p, log);
      rows.push(...r.rows);
      raw.authRedis = r.raw;
    }

    if (opts.cpuProf) {
      const durationMs = opts.quick ? 4_000 : 10_000;
      const workloads = {
        'stream c=64': (c) =>
          streamingLatency(c, {
            concurrency: 64,
            tokens: 50,
            tps: 200,
            durationMs,
            targets: { gateway: openAiTargets(c).gateway },
          }),
        'non-stream 20 clients': (c) =>
          nonStreamingThroughput(c, {
            concurrency: 20,
            durationMs,
            targets: { gateway: openAiTargets(c).gateway },
          }),
      };
      raw.cpuProfile = {};
      for (const [label, workload] of Object.entries(workloads)) {
        log(
          `CPU profile of a fresh gateway under ${label} (${durationMs} ms; boot and module loading included)`,
        );
        const summary = await profileGateway(ctx, workload);
        raw.cpuProfile[label] = summary;
        if (!summary) {
          log('  no profile written');
          continue;
        }
        log(`  busy ${summary.busyMs} ms of ${summary.totalMs} ms; top modules by self time:`);
        for (const m of summary.topModules.slice(0, 8))
          log(`    ${String(m.pctOfBusy).padStart(5)}%  ${m.frame}`);
        log('  modules on the stack (inclusive):');
        for (const m of summary.inclusiveModules.slice(0, 10))
          log(`    ${String(m.pctOfBusy).padStart(5)}%  ${m.frame}`);
        log('  top frames by self time:');
        for (const f of summary.topFrames.slice(0, 12))
          log(`    ${String(f.pctOfBusy).padStart(5)}%  ${f.frame}`);
      }
    }

    if (want('idle')) {
      log(`idle streams: ${p.idle.count} silent streams through a fresh gateway on PostgreSQL`);
      // as a production task runs: on PostgreSQL. The embedded database's WebAssembly
      // memory grows and shrinks on its own, which RSS per stream would count.
      const idleDb = await createBenchDatabase();
      const idleGw = await startGateway(dist, sim.url, {
        env: {
          DATABASE_URL: idleDb.url,
          API_KEY_SECRET: `bench-api-key-secret-${process.pid}-0123456789abcdef`,
        },
      });
      try {
        const ictx = { ...ctx, gateway: idleGw };
        // A few real requests first, so the baseline includes the code paths a stream touches.
        const { completionsBody, simDirective } = await import('./lib/load-client.mjs');
        const body = completionsBody({
          model: 'gpt-4o-mini',
          directive: simDirective({ tokens: 5 }),
          stream: true,
        });
        await load.call('streamLatency', {
          tgt: openAiTargets(ictx).gateway,
          path: '/v1/chat/completions',
          body,
          concurrency: 8,
          durationMs: 1_000,
        });
        await new Promise((r) => setTimeout(r, 1_000));
        const r = await idleStreams(ictx, {
          gw: idleGw,
          count: p.idle.count,
          rssTargetKiB: TARGETS.rssPerStreamKiB,
        });
        rows.push(...r.rows);
        raw.idle = r.raw;
        streamsCapacity = streamsPerTask({
          baseRssKiB: r.rssBeforeKiB,
          perStreamKiB: r.perStreamKiB,
        });
      } finally {
        await stop(idleGw.child);
        await idleDb.drop();
      }
    }

    if (want('boot')) {
      log(`boot to ready, ${p.bootRuns} runs`);
      const r = await bootToReady(ctx, { runs: p.bootRuns, targetMs: TARGETS.bootMs });
      rows.push(...r.rows);
      raw.boot = r.raw;
    }
  } finally {
    await stop(gateway?.child);
    await load.close();
    await stop(sim.child);
  }

  machine.loadavgAtEnd = os.loadavg().map((l) => round(l, 2));
  const result = {
    date: started.toISOString(),
    node: process.version,
    machine,
    build: { dist: opts.dist, gitHead: headAtStart },
    mode: opts.quick ? 'quick' : 'full',
    durationS: round((performance.now() - t0) / 1000, 1),
    notes: [
      `Absolute numbers are noisy: simulator, gateway and load generator share ${machine.cpus} CPU(s) with whatever else runs on the machine. Compare direct vs gateway within one run (delta/ratio), not across runs.`,
      'chunk delay = observed gap between answer tokens minus the simulator pacing interval (1000/tps); frames that arrive in one socket read count as gap 0.',
      'streamsPerTask = floor((0.7 x 2 GiB - idle gateway RSS) / (1.5 x RSS per stream)), to the hundred; memory only, CPU not included.',
    ],
    rows,
    peers: peers ? { rows: peers.rows, checks: peers.checks } : null,
    streamsPerTask: streamsCapacity,
    gatewayCpu: gatewayCpu(rows),
    raw,
  };

  log('');
  log(renderTable(rows));
  log('');
  if (peers) {
    log('peers (same run; value (+added over direct)):');
    log(renderPeerTable(peers));
    log('');
  }
  log(`streamsPerTask (2 GiB task, conservative): ${streamsCapacity ?? '-'}`);
  const cpu = result.gatewayCpu;
  if (cpu.streamedTokensPerCpuSecond) {
    log(
      `gateway CPU: ${cpu.msPer1kStreamedTokens} ms per 1k streamed tokens (~${cpu.streamedTokensPerCpuSecond} tokens/s per core), ` +
        `${cpu.msPerNonStreamRequest ?? '-'} ms per non-streaming request`,
    );
  }
  log(
    `load average (1/5/15 min) at start ${machine.loadavgAtStart.join(' ')}, at end ${machine.loadavgAtEnd.join(' ')} on ${machine.cpus} CPUs`,
  );
  for (const n of result.notes) log(`note: ${n}`);
  const misses = [
    ...rows.filter((r) => r.pass === false).map((r) => r.name),
    ...(peers?.checks ?? []).filter((c) => !c.pass).map((c) => c.name),
  ];
  log(misses.length ? `targets missed: ${misses.join('; ')}` : 'all targets met');
  log(`took ${result.durationS} s`);

  if (opts.save) {
    const dir = path.join(here, 'results');
    mkdirSync(dir, { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    const json = `${JSON.stringify(result, null, 2)}\n`;
    writeFileSync(path.join(dir, `${stamp}.json`), json);
    writeFileSync(path.join(dir, 'latest.json'), json);
    log(`wrote bench/results/${stamp}.json and bench/results/latest.json`);
  }
}

// Ctrl-C / SIGTERM: exit through process.exit so children are killed and the dist copy removed.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
