/**
 * Benchmark scenarios. Each exported function runs one measurement against the
 * processes in `ctx` and returns result rows of one stable shape:
 *
 *   { name, scenario, params, direct, gateway, delta, unit, target?, pass?, margin? }
 *
 * `direct` is the same request sent straight to the simulator, `gateway` through
 * Switchboard, `delta` = gateway - direct, `ratio` = gateway / direct. A target
 * names the column it applies to (`on`) and a bound (`max` or `min`); `margin`
 * is how far inside (positive) or outside (negative) the bound the value is.
 *
 * ctx: { sim, gateway, load, dist, log } where `load.call(op, args)` runs a load
 * pattern in the separate load-worker process (see bench/lib/load.mjs), and
 * `ctx.gateway.pid` is the process whose CPU the gateway side is charged.
 *
 * Reuse:
 * - per provider: pass `model` (one the catalogue maps to that provider) and a
 *   `provider` label for the row names; a target may carry `request: { path,
 *   wire, body }` overrides when the direct call speaks another protocol, or
 *   pass `targets: { gateway }` alone for gateway-only rows.
 * - cost of a gateway feature (auth, limits): run the same scenario with
 *   `{ ...ctx, gateway: otherGateway }` and compare the two results' rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { completionsBody, sendJson, simDirective, target } from './lib/load-client.mjs';
import { median, round, summarize } from './lib/stats.mjs';
import {
  cpuMeter,
  metricValue,
  rssKiB,
  simStats,
  spawnGateway,
  stop,
  waitFor200,
} from './lib/processes.mjs';

export const COMPLETIONS_PATH = '/v1/chat/completions';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Builds a row; `target` is `{ on: 'delta'|'gateway'|'ratio', max? | min? }`. */
export function row(name, scenario, params, direct, gateway, unit, target) {
  const r = {
    name,
    scenario,
    params,
    direct: round(direct),
    gateway: round(gateway),
    delta: null,
    unit,
  };
  if (typeof direct === 'number' && typeof gateway === 'number') r.delta = round(gateway - direct);
  if (typeof direct === 'number' && typeof gateway === 'number' && direct !== 0)
    r.ratio = round(gateway / direct);
  if (target) {
    const value = r[target.on];
    r.target = target;
    if (typeof value !== 'number') r.pass = false;
    else if (target.max !== undefined) {
      r.pass = value <= target.max;
      r.margin = round(target.max - value);
    } else {
      r.pass = value >= target.min;
      r.margin = round(value - target.min);
    }
  }
  return r;
}

/**
 * Runs `op` against `tgt` in the load worker while metering the CPU of the
 * server side: the simulator alone for the direct target, simulator + gateway
 * otherwise, so the delta is the gateway's own CPU.
 */
async function measured(ctx, tgt, op, args) {
  const pids = tgt.pids ?? (tgt.name === 'direct' ? [ctx.sim.pid] : [ctx.sim.pid, ctx.gateway.pid]);
  const meter = cpuMeter(pids);
  const result = await ctx.load.call(op, { ...args, ...tgt.request, tgt });
  result.serverCpuMs = meter.end();
  return result;
}

function concat(arrays) {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Sums the counters of several rounds of one target and pools their samples. */
function merge(runs) {
  if (runs.length === 0) return undefined;
  const errors = {};
  for (const r of runs)
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const sum = (k) => runs.reduce((n, r) => n + (r[k] ?? 0), 0);
  const merged = {
    target: runs[0].target,
    rounds: runs.length,
    elapsedMs: sum('elapsedMs'),
    ok: sum('ok'),
    failed: sum('failed'),
    errors,
    tokens: sum('tokens'),
    serverCpuMs: sum('serverCpuMs'),
  };
  if (runs[0].ttft) {
    merged.ttftMs = summarize(concat(runs.map((r) => r.ttft)), [50, 90, 99]);
    merged.gapMs = summarize(concat(runs.map((r) => r.gaps)), [50, 90, 99, 99.9]);
  }
  if (runs[0].latencies) {
    merged.rps = (merged.ok * 1000) / merged.elapsedMs;
    merged.latencyMs = summarize(concat(runs.map((r) => r.latencies)), [50, 99]);
  }
  return merged;
}

/**
 * Runs the same load against both targets in `rounds` interleaved slices
 * (direct, gateway, gateway, direct, ...) so background noise on a shared
 * machine lands on both sides alike; samples of a side are pooled.
 */
export async function compare(ctx, { direct, gateway }, op, args, rounds = 1) {
  const runs = { direct: [], gateway: [] };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [direct, gateway] : [gateway, direct];
    for (const tgt of order)
      if (tgt) runs[tgt === direct ? 'direct' : 'gateway'].push(await measured(ctx, tgt, op, args));
  }
  return { direct: merge(runs.direct), gateway: merge(runs.gateway) };
}

/**
 * Like `compare`, for any number of targets: each round visits every target once,
 * starting one further along each time (and in reverse every other round), so no
 * target always runs first or last. Returns the merged runs in target order.
 */
export async function compareMany(ctx, targets, op, args, rounds = 1) {
  const runs = targets.map(() => []);
  for (let i = 0; i < rounds; i++) {
    const order = targets.map((_, j) => (i + j) % targets.length);
    if (i % 2 === 1) order.reverse();
    for (const j of order) runs[j].push(await measured(ctx, targets[j], op, args));
  }
  return runs.map(merge);
}

/** The two sides of a comparison for the OpenAI Chat Completions wire. */
export function openAiTargets(ctx) {
  return {
    direct: target('direct', ctx.sim.port, { authorization: 'Bearer bench' }),
    gateway: target('gateway', ctx.gateway.port, ctx.gateway.headers),
  };
}

/**
 * Streaming latency at one concurrency: time to first token and the gaps between
 * tokens. The simulator paces tokens at `tps`, so a gap's ideal value is
 * 1000/tps ms; "chunk delay" is the observed gap minus that interval, and its
 * p99 difference between gateway and direct is the latency the gateway adds per
 * chunk.
 */
export async function streamingLatency(
  ctx,
  {
    concurrency,
    tokens = 50,
    tps = 200,
    durationMs,
    rounds = 1,
    model = 'gpt-4o-mini',
    provider = 'openai',
    targets,
    ttftTarget,
    chunkTarget,
  },
) {
  const body = completionsBody({
    model,
    directive: simDirective({ ttftMs: 0, tokens, tps }),
    stream: true,
  });
  // durationMs is per target, split over the rounds.
  const sliceMs = durationMs / rounds;
  const rampMs = Math.min(1_000, sliceMs / 5);
  const { direct: d, gateway: g } = await compare(
    ctx,
    targets ?? openAiTargets(ctx),
    'streamLatency',
    { path: COMPLETIONS_PATH, body, concurrency, durationMs: sliceMs, rampMs },
    rounds,
  );
  const interval = tps > 0 ? 1000 / tps : 0;
  const params = { provider, model, concurrency, tokens, tps, durationMs, rounds };
  const withSamples = (key) => ({
    ...params,
    samples: { direct: d?.[key].n ?? null, gateway: g[key].n },
  });
  const prefix = `${provider} stream c=${concurrency}`;
  ctx.log?.(
    `  ${prefix}: direct ${d ? `${d.ok} ok/${d.failed} failed` : 'n/a'}, gateway ${g.ok} ok/${g.failed} failed` +
      (g.failed || d?.failed
        ? ` errors ${JSON.stringify({ direct: d?.errors, gateway: g.errors })}`
        : ''),
  );
  const cpuPer1k = (r) => (r && r.tokens > 0 ? (r.serverCpuMs * 1000) / r.tokens : undefined);
  const streamsPerS = (r) => (r ? (r.ok * 1000) / r.elapsedMs : undefined);
  const chunkDelay = (r) => (r && r.gapMs.n > 0 ? r.gapMs.p99 - interval : undefined);
  return {
    raw: { direct: d, gateway: g },
    rows: [
      row(
        `${prefix} TTFT p50`,
        'streamingLatency',
        withSamples('ttftMs'),
        d?.ttftMs.p50,
        g.ttftMs.p50,
        'ms',
      ),
      row(
        `${prefix} TTFT p99`,
        'streamingLatency',
        withSamples('ttftMs'),
        d?.ttftMs.p99,
        g.ttftMs.p99,
        'ms',
        ttftTarget,
      ),
      row(
        `${prefix} chunk delay p99 (gap - ${round(interval, 2)} ms)`,
        'streamingLatency',
        withSamples('gapMs'),
        chunkDelay(d),
        chunkDelay(g),
        'ms',
        chunkTarget,
      ),
      row(
        `${prefix} streams completed per second`,
        'streamingLatency',
        params,
        streamsPerS(d),
        streamsPerS(g),
        'streams/s',
      ),
      row(
        `${prefix} server CPU per 1k tokens`,
        'streamingLatency',
        params,
        cpuPer1k(d),
        cpuPer1k(g),
        'ms',
      ),
      row(`${prefix} streams failed`, 'streamingLatency', params, d?.failed, g.failed, 'streams', {
        on: 'gateway',
        max: 0,
      }),
    ],
  };
}

/** Short non-streaming completions from `concurrency` closed-loop clients. */
export async function nonStreamingThroughput(
  ctx,
  {
    concurrency = 20,
    durationMs,
    rounds = 1,
    tokens = 12,
    model = 'gpt-4o-mini',
    provider = 'openai',
    targets,
  },
) {
  const body = completionsBody({
    model,
    directive: simDirective({ ttftMs: 0, tokens, tps: 0 }),
    stream: false,
  });
  const { direct: d, gateway: g } = await compare(
    ctx,
    targets ?? openAiTargets(ctx),
    'throughput',
    { path: COMPLETIONS_PATH, body, concurrency, durationMs: durationMs / rounds },
    rounds,
  );
  const params = { provider, model, concurrency, tokens, durationMs, rounds };
  const prefix = `${provider} non-stream ${concurrency} clients`;
  ctx.log?.(
    `  ${prefix}: direct ${d ? `${d.ok} ok/${d.failed} failed` : 'n/a'}, gateway ${g.ok} ok/${g.failed} failed`,
  );
  return {
    raw: { direct: d, gateway: g },
    rows: [
      row(`${prefix} requests/s`, 'nonStreamingThroughput', params, d?.rps, g.rps, 'req/s'),
      row(
        `${prefix} latency p50`,
        'nonStreamingThroughput',
        params,
        d?.latencyMs.p50,
        g.latencyMs.p50,
        'ms',
      ),
      row(
        `${prefix} latency p99`,
        'nonStreamingThroughput',
        params,
        d?.latencyMs.p99,
        g.latencyMs.p99,
        'ms',
      ),
      row(
        `${prefix} server CPU per request`,
        'nonStreamingThroughput',
        params,
        d && d.ok > 0 ? d.serverCpuMs / d.ok : undefined,
        g.ok > 0 ? g.serverCpuMs / g.ok : undefined,
        'ms',
      ),
      row(`${prefix} failed`, 'nonStreamingThroughput', params, d?.failed, g.failed, 'requests', {
        on: 'gateway',
        max: 0,
      }),
    ],
  };
}

async function heapBytes(metricsUrl) {
  return {
    heapUsed: await metricValue(metricsUrl, 'nodejs_heap_size_used_bytes'),
    heapTotal: await metricValue(metricsUrl, 'nodejs_heap_size_total_bytes'),
    external: await metricValue(metricsUrl, 'nodejs_external_memory_bytes'),
  };
}

async function waitUntil(check, { timeoutMs, everyMs = 10 }) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await check()) return performance.now() - t0;
    await sleep(everyMs);
  }
  return undefined;
}

/**
 * Memory per open stream: `count` silent streams through a gateway (`gw`, a
 * fresh process so earlier load does not pre-grow its heap), gateway RSS before
 * and after, the active-streams gauge, then all clients abort at once and the
 * time until the simulator reports no open upstream request.
 */
export async function idleStreams(
  ctx,
  {
    gw,
    count = 5_000,
    batch = 250,
    model = 'gpt-4o-mini',
    provider = 'openai',
    rssTargetKiB = 40,
    settleMs = 2_000,
  },
) {
  const metricsUrl = `${gw.url}/metrics`;
  const body = completionsBody({
    model,
    directive: simDirective({ ttftMs: 600_000, tokens: 1, tps: 0 }),
    stream: true,
  });
  const tgt = target('gateway', gw.port, gw.headers);

  const simBefore = await simStats(ctx.sim.url);
  if (simBefore.open !== 0)
    throw new Error(`simulator has ${simBefore.open} open requests before the idle-stream test`);
  const simRssBefore = rssKiB(ctx.sim.pid);
  const rssBefore = rssKiB(gw.pid);
  const heapBefore = await heapBytes(metricsUrl);

  // Batches of `batch`, each sent once the simulator sees all but the last batch
  // open: at most one batch waits in the gateway's accept queue at a time.
  const openStart = performance.now();
  let sent = 0;
  let stalled = false;
  // read again with half the streams open: the second half's growth is what one
  // more stream costs, without the one-time growth any load brings (V8's young
  // generation growing to its maximum, compiled code, pools)
  const half = Math.floor(count / batch / 2) * batch;
  let atHalf;
  while (sent < count) {
    const n = Math.min(batch, count - sent);
    await ctx.load.call('openIdle', {
      tgt,
      path: COMPLETIONS_PATH,
      body,
      count: n,
      reset: sent === 0,
    });
    sent += n;
    const caughtUp = await waitUntil(
      async () => ((await simStats(ctx.sim.url))?.open ?? 0) >= sent - batch,
      {
        timeoutMs: 30_000,
        everyMs: 20,
      },
    );
    if (caughtUp === undefined) {
      stalled = true;
      break;
    }
    if (sent === half && half > 0) {
      const halfOpen = await waitUntil(
        async () => ((await simStats(ctx.sim.url))?.open ?? 0) >= half,
        { timeoutMs: 30_000, everyMs: 20 },
      );
      if (halfOpen === undefined) continue;
      await sleep(settleMs);
      atHalf = { open: half, rss: rssKiB(gw.pid), heap: await heapBytes(metricsUrl) };
    }
  }
  let active;
  let simOpen;
  const allOpen = await waitUntil(
    async () => {
      active = await metricValue(metricsUrl, 'switchboard_active_streams');
      simOpen = (await simStats(ctx.sim.url))?.open;
      return active === count && simOpen === count;
    },
    { timeoutMs: stalled ? 1_000 : 30_000, everyMs: 20 },
  );
  const openMs = performance.now() - openStart;
  await sleep(settleMs); // let allocation settle before reading RSS
  const rssAfter = rssKiB(gw.pid);
  const simRssAfter = rssKiB(ctx.sim.pid);
  const heapAfter = await heapBytes(metricsUrl);
  active = await metricValue(metricsUrl, 'switchboard_active_streams');
  simOpen = (await simStats(ctx.sim.url))?.open;
  const open = Math.min(active ?? 0, simOpen ?? 0);
  const perStream = open > 0 ? (rssAfter - rssBefore) / open : undefined;
  const added = atHalf && open > atHalf.open ? open - atHalf.open : 0;
  const perAddedStream = added > 0 ? (rssAfter - atHalf.rss) / added : undefined;
  const perAddedOf = (k) =>
    added > 0 && atHalf.heap[k] !== undefined && heapAfter[k] !== undefined
      ? (heapAfter[k] - atHalf.heap[k]) / 1024 / added
      : undefined;
  const simPerStream = open > 0 ? (simRssAfter - simRssBefore) / open : undefined;
  // Where the RSS goes: V8 heap in use (garbage not yet collected included) and
  // memory outside the heap (buffers), from the gateway's own default metrics.
  const perStreamOf = (k) =>
    open > 0 && heapBefore[k] !== undefined && heapAfter[k] !== undefined
      ? (heapAfter[k] - heapBefore[k]) / 1024 / open
      : undefined;
  ctx.log?.(
    `  idle: ${sent} requested, ${allOpen === undefined ? 'NOT all open' : 'all open'} after ${round(openMs, 0)} ms; ` +
      `gauge ${active}, simulator open ${simOpen}; gateway RSS ${rssBefore} -> ${rssAfter} KiB`,
  );

  const abortAt = performance.now();
  await ctx.load.call('abortIdle', {});
  const upstreamClosedMs = await waitUntil(async () => (await simStats(ctx.sim.url))?.open === 0, {
    timeoutMs: 30_000,
    everyMs: 10,
  });
  const drainedFromAbort = performance.now() - abortAt;
  const gaugeZeroMs = await waitUntil(
    async () => (await metricValue(metricsUrl, 'switchboard_active_streams')) === 0,
    {
      timeoutMs: 10_000,
    },
  );
  const simAfter = await simStats(ctx.sim.url);
  ctx.log?.(
    `  abort: simulator open -> 0 ${upstreamClosedMs === undefined ? 'NOT within 30 s' : `after ${round(drainedFromAbort, 0)} ms`}; ` +
      `gauge -> 0 ${gaugeZeroMs === undefined ? 'NOT within 10 s' : 'yes'}; simulator aborted ${simAfter.aborted - simBefore.aborted}`,
  );

  const params = { provider, model, count, batch, settleMs };
  return {
    raw: {
      requested: sent,
      openMs: round(openMs),
      activeStreamsGauge: active,
      simulatorOpen: simOpen,
      gatewayRssKiB: { before: rssBefore, after: rssAfter },
      simulatorRssKiB: { before: simRssBefore, after: simRssAfter, perStream: round(simPerStream) },
      gatewayHeapBytes: { before: heapBefore, after: heapAfter },
      atHalf: atHalf ?? null,
      upstreamClosedMs: upstreamClosedMs === undefined ? null : round(drainedFromAbort),
      gaugeZero: gaugeZeroMs !== undefined,
    },
    rssBeforeKiB: rssBefore,
    perStreamKiB: perStream,
    rows: [
      row(
        'idle streams open (active_streams gauge)',
        'idleStreams',
        params,
        null,
        active ?? null,
        'streams',
        { on: 'gateway', min: count },
      ),
      row('RSS per open stream', 'idleStreams', params, null, perStream ?? null, 'KiB'),
      row(
        `RSS per added stream (${atHalf?.open ?? '-'} -> ${open} open)`,
        'idleStreams',
        params,
        null,
        perAddedStream ?? null,
        'KiB',
        { on: 'gateway', max: rssTargetKiB },
      ),
      row(
        'V8 heap used per added stream (part of RSS)',
        'idleStreams',
        params,
        null,
        perAddedOf('heapUsed') ?? null,
        'KiB',
      ),
      row(
        'V8 heap committed per added stream (part of RSS)',
        'idleStreams',
        params,
        null,
        perAddedOf('heapTotal') ?? null,
        'KiB',
      ),
      row(
        'V8 heap committed per open stream (part of RSS)',
        'idleStreams',
        params,
        null,
        perStreamOf('heapTotal') ?? null,
        'KiB',
      ),
      row(
        'V8 heap used per open stream (part of RSS)',
        'idleStreams',
        params,
        null,
        perStreamOf('heapUsed') ?? null,
        'KiB',
      ),
      row(
        'external memory per open stream (part of RSS)',
        'idleStreams',
        params,
        null,
        perStreamOf('external') ?? null,
        'KiB',
      ),
      row('gateway RSS before idle streams', 'idleStreams', params, null, rssBefore / 1024, 'MiB'),
      row(
        'gateway RSS with idle streams open',
        'idleStreams',
        params,
        null,
        rssAfter / 1024,
        'MiB',
      ),
      row(
        'idle streams opened per second (paced)',
        'idleStreams',
        params,
        null,
        allOpen === undefined ? null : (count * 1000) / openMs,
        'streams/s',
      ),
      row(
        'abort all idle streams -> simulator open=0',
        'idleStreams',
        params,
        null,
        upstreamClosedMs === undefined ? null : drainedFromAbort,
        'ms',
      ),
    ],
  };
}

/** Spawn-to-`/ready`=200 of fresh gateway processes (polled every 10 ms); median of `runs`. */
export async function bootToReady(ctx, { runs = 3, targetMs = 1_500 } = {}) {
  // The first boot of an embedded install creates the PGlite database (initdb +
  // migrations); every later boot, and every scale-out boot (PostgreSQL), does not.
  // Both are reported; the target applies to the restart.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-boot-'));
  const bootOnce = async () => {
    const gw = await spawnGateway(ctx.dist, ctx.sim.url, { dataDir });
    try {
      return await waitFor200(`${gw.url}/ready`, {
        since: gw.spawnedAt,
        child: gw.child,
        everyMs: 10,
      });
    } finally {
      await stop(gw.child);
    }
  };
  let first;
  const times = [];
  try {
    first = await bootOnce();
    for (let i = 0; i < runs; i++) times.push(await bootOnce());
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  ctx.log?.(`  first boot (creates the embedded database): ${round(first, 0)} ms`);
  ctx.log?.(`  boot to ready on restart: ${times.map((t) => `${round(t, 0)} ms`).join(', ')}`);
  return {
    raw: { firstBootMs: round(first), runsMs: times.map((t) => round(t)) },
    rows: [
      row('first boot, embedded database created', 'bootToReady', { runs: 1 }, null, first, 'ms'),
      row(
        `boot to ready on restart (median of ${runs})`,
        'bootToReady',
        { runs },
        null,
        median(times),
        'ms',
        {
          on: 'gateway',
          max: targetMs,
        },
      ),
    ],
  };
}

/**
 * Streams one 2 GiB task can hold, conservatively: 70% of the task's memory
 * (the rest is headroom for GC and bursts) minus the idle gateway's RSS, divided
 * by 1.5x the measured RSS per stream, rounded down to a hundred.
 */
export function streamsPerTask({ baseRssKiB, perStreamKiB, taskMiB = 2_048 }) {
  if (!(perStreamKiB > 0)) return null;
  const usableKiB = taskMiB * 1024 * 0.7 - baseRssKiB;
  return Math.max(0, Math.floor(usableKiB / (perStreamKiB * 1.5) / 100) * 100);
}

/**
 * Gateway-added time to first token through each provider's SDK path. The
 * gateway serves every provider from the simulator (OpenAI and Azure through the
 * `openai` SDK, Bedrock through ConverseStream, Gemini through `@google/genai`)
 * and answers all of them as OpenAI chunks. The simulator has no OpenAI-shaped
 * path for Bedrock or Gemini, so every provider is compared with the same
 * baseline: the OpenAI request sent straight to the simulator. A provider's
 * delta therefore also holds the simulator's cost of speaking that protocol
 * (event-stream framing for Bedrock), which is small next to the SDKs'.
 *
 * Streams are short (`tokens` at `tps`, default 5 tokens at once) so a slice
 * holds hundreds of TTFT samples; the targets run in interleaved rounds.
 */
export async function providerLatency(
  ctx,
  { providers, concurrency = 1, tokens = 5, tps = 0, durationMs, rounds = 3 },
) {
  const directive = simDirective({ ttftMs: 0, tokens, tps });
  const body = (model) => completionsBody({ model, directive, stream: true });
  const base = openAiTargets(ctx);
  const targets = [
    { ...base.direct, request: { body: body('gpt-4o-mini') } },
    ...providers.map((p) => ({
      ...base.gateway,
      name: `gateway ${p.provider}`,
      request: { body: body(p.model) },
    })),
  ];
  const sliceMs = durationMs / rounds;
  const [d, ...gs] = await compareMany(
    ctx,
    targets,
    'streamLatency',
    {
      path: COMPLETIONS_PATH,
      concurrency,
      durationMs: sliceMs,
      rampMs: Math.min(1_000, sliceMs / 5),
    },
    rounds,
  );
  const rows = [];
  const raw = { direct: d };
  providers.forEach((p, i) => {
    const g = gs[i];
    raw[p.provider] = g;
    const params = {
      provider: p.provider,
      model: p.model,
      baseline: 'openai gpt-4o-mini direct',
      concurrency,
      tokens,
      tps,
      durationMs,
      rounds,
      samples: { direct: d.ttftMs.n, gateway: g.ttftMs.n },
    };
    const prefix = `${p.provider} (${p.model}) via gateway c=${concurrency}`;
    ctx.log?.(
      `  ${prefix}: ${g.ok} ok/${g.failed} failed` +
        (g.failed ? ` errors ${JSON.stringify(g.errors)}` : '') +
        `, TTFT p50 ${g.ttftMs.p50} ms p99 ${g.ttftMs.p99} ms (direct openai p50 ${d.ttftMs.p50} p99 ${d.ttftMs.p99})`,
    );
    rows.push(
      row(`${prefix} TTFT p50`, 'providerLatency', params, d.ttftMs.p50, g.ttftMs.p50, 'ms'),
      row(`${prefix} TTFT p99`, 'providerLatency', params, d.ttftMs.p99, g.ttftMs.p99, 'ms'),
      row(`${prefix} streams failed`, 'providerLatency', params, d.failed, g.failed, 'streams', {
        on: 'gateway',
        max: 0,
      }),
    );
  });
  return { rows, raw };
}

const NO_LIMIT = 1_000_000_000;

/**
 * Limits high enough that the benchmark is never refused, for the gateway's
 * defaults (per user and per account); every check still runs.
 */
/** resolution of the gateway's event-loop delay histogram (MetricsService) */
const EVENT_LOOP_SAMPLE_MS = 10;

export const BENCH_LIMIT_ENV = {
  RATE_LIMIT_REQUESTS_PER_MINUTE: '10000000',
  RATE_LIMIT_TOKENS_PER_MINUTE: String(NO_LIMIT),
  RATE_LIMIT_CONCURRENT_STREAMS: '1000000',
};

async function adminCall(gw, method, path, body) {
  const r = await sendJson(`${gw.url}${path}`, { method, headers: gw.headers, body });
  if (r.status < 200 || r.status >= 300)
    throw new Error(`${method} ${path} -> ${r.status} ${r.text.slice(0, 300)}`);
  return r.json;
}

/**
 * An account and an API key (scope chat, per-key limits out of reach) with a
 * daily budget of $1000 on the key, created through the admin API with the
 * bootstrap admin key. Resolves `{ key, keyId, accountId, userId }`.
 */
export async function provisionApiKey(gw, { label }) {
  const accountId = `bench-${label}-${process.pid}`;
  const userId = `bench-user-${label}-${process.pid}`;
  await adminCall(gw, 'POST', '/admin/accounts', { id: accountId, name: `bench ${label}` });
  await adminCall(gw, 'PUT', `/admin/accounts/${accountId}/members/${userId}`);
  const made = await adminCall(gw, 'POST', '/admin/keys', {
    ownerUserId: userId,
    accountId,
    scopes: ['chat'],
    name: 'bench',
    limits: { requestsPerMinute: NO_LIMIT, tokensPerMinute: NO_LIMIT, concurrentStreams: NO_LIMIT },
  });
  const keyId = made.record.id;
  await adminCall(gw, 'PUT', `/admin/budgets/key/${keyId}/day`, { limitUsd: 1000 });
  return { key: made.key, keyId, accountId, userId };
}

/**
 * What authentication with an API key, the rate-limit checks (requests, tokens,
 * concurrent streams per key, user and account) and the budget hold and its
 * settlement add to the time to first token: the same streams on one gateway
 * with the bootstrap admin key (which skips limits and budgets) and with an API
 * key, interleaved. `direct` = admin key, `gateway` = API key, delta = the cost.
 * Checks that the API key really went through limits and budgets (RateLimit
 * headers on a response, spend recorded against the key's budget).
 */
export async function authLimitsCost(
  ctx,
  { gw, mode, apiKey, concurrency = 1, tokens = 5, tps = 0, durationMs, rounds = 4, ttftTarget },
) {
  const body = completionsBody({
    model: 'gpt-4o-mini',
    directive: simDirective({ ttftMs: 0, tokens, tps }),
    stream: true,
  });
  const probe = await new Promise((resolve, reject) => {
    const req = http.request(
      `${gw.url}${COMPLETIONS_PATH}`,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${apiKey.key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  if (probe.status !== 200 || !probe.headers['ratelimit-policy'])
    throw new Error(
      `API key probe on the ${mode} gateway: HTTP ${probe.status}, RateLimit-Policy ${probe.headers['ratelimit-policy'] ?? 'missing'}`,
    );

  const admin = target('admin key', gw.port, gw.headers);
  const keyed = target('api key', gw.port, { authorization: `Bearer ${apiKey.key}` });
  const sliceMs = durationMs / rounds;
  const [a, k] = await compareMany(
    { ...ctx, gateway: gw },
    [admin, keyed],
    'streamLatency',
    { path: COMPLETIONS_PATH, body, concurrency, durationMs: sliceMs, rampMs: 0 },
    rounds,
  );
  await sleep(1_000); // the usage ledger writes in batches
  const budgets = await adminCall(
    gw,
    'GET',
    `/admin/budgets?scopeType=key&scopeId=${encodeURIComponent(apiKey.keyId)}`,
  );
  const budget = budgets.data.find((b) => b.period === 'day');
  ctx.log?.(
    `  ${mode}: admin key ${a.ok} ok/${a.failed} failed, TTFT p50 ${a.ttftMs.p50} p99 ${a.ttftMs.p99} ms; ` +
      `API key ${k.ok} ok/${k.failed} failed, TTFT p50 ${k.ttftMs.p50} p99 ${k.ttftMs.p99} ms; ` +
      `key budget today: spent ${budget?.spentMicros ?? '?'} micro-USD, held ${budget?.heldMicros ?? '?'}`,
  );
  if (!(budget?.spentMicros > 0))
    throw new Error(
      `${mode}: nothing was charged to the API key's budget; the measurement is void`,
    );
  const params = {
    mode,
    model: 'gpt-4o-mini',
    concurrency,
    tokens,
    tps,
    durationMs,
    rounds,
    compared: 'bootstrap admin key (no limits, no budgets) vs API key with a $1000/day budget',
    samples: { direct: a.ttftMs.n, gateway: k.ttftMs.n },
  };
  const prefix = `auth + limits + budget hold (${mode}) c=${concurrency}`;
  return {
    raw: { adminKey: a, apiKey: k, budget },
    rows: [
      row(`${prefix} TTFT p50`, 'authLimitsCost', params, a.ttftMs.p50, k.ttftMs.p50, 'ms'),
      row(
        `${prefix} TTFT p99`,
        'authLimitsCost',
        params,
        a.ttftMs.p99,
        k.ttftMs.p99,
        'ms',
        ttftTarget,
      ),
      row(`${prefix} streams failed`, 'authLimitsCost', params, a.failed, k.failed, 'streams', {
        on: 'gateway',
        max: 0,
      }),
    ],
  };
}

/** The lean-hot-path targets, checked on the peer comparison. */
export const PEER_TARGETS = {
  nonStreamVsPortkey: 2, // Switchboard req/s >= 2x Portkey's
  c64TtftP50VsPortkey: 1 / 3, // added TTFT p50 <= 1/3 of Portkey's
  c64TtftP99VsPortkey: 1, // added TTFT p99 <= Portkey's
  c1TtftAddedP50Ms: 1,
  c1TtftAddedP99Ms: 3,
  cpuPer1kVsFloor: 1.6, // own CPU per 1k streamed tokens <= 1.6x the floor proxy's
  eventLoopDelayP99Ms: 5, // embedded gateway during the c=1 run
};

/**
 * Direct, the floor proxy, Portkey and Switchboard (API key with limits and a
 * budget, and the admin key) on the same loads in one run: streaming c=1 and
 * c=64 and non-streaming throughput, each in interleaved rounds so background
 * noise lands on every target alike. `added` = target - direct; CPU is each
 * server's own (its process plus the simulator, minus direct's simulator CPU).
 * During Switchboard's c=1 slices the gateway's event-loop delay p99 is read
 * from its metrics (prom-client resets the histogram on every scrape).
 */
/** the pause between two peers' slices */
const SETTLE_MS = 300;

export async function peerComparison(
  ctx,
  { floor, portkey, apiKey, c1, c64, throughputLoad, rounds },
) {
  const sim = ctx.sim;
  const gw = ctx.gateway;
  const targets = [
    { ...target('direct', sim.port, { authorization: 'Bearer bench' }), pids: [sim.pid] },
    { ...target('floor', floor.port, floor.headers), pids: [sim.pid, floor.pid] },
    { ...target('portkey', portkey.port, portkey.headers), pids: [sim.pid, portkey.pid] },
    {
      ...target('switchboard', gw.port, { authorization: `Bearer ${apiKey.key}` }),
      pids: [sim.pid, gw.pid],
    },
    { ...target('switchboard-admin', gw.port, gw.headers), pids: [sim.pid, gw.pid] },
  ];
  const names = targets.map((t) => t.name);
  const metricsUrl = `${gw.url}/metrics`;
  const loopDelays = [];

  const run = async (op, args, sliceMs, watchLoop) => {
    const runs = targets.map(() => []);
    const n = targets.length;
    const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));
    for (let i = 0; i < rounds; i++) {
      // a different step each round, so no target always follows the same one (a
      // peer's leftover work after its slice, GC or logging, lands on whoever is next)
      let step = 1 + (i % (n - 1));
      if (gcd(step, n) !== 1) step = 1;
      const order = targets.map((_, j) => (i + j * step) % n);
      for (const j of order) {
        // let the previous target's process settle before this slice's meters start
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const watch = watchLoop && targets[j].name === 'switchboard';
        if (watch) await metricValue(metricsUrl, 'nodejs_eventloop_lag_p99_seconds', gw.headers);
        runs[j].push(await measured(ctx, targets[j], op, { ...args, durationMs: sliceMs }));
        if (watch) {
          const p99 = await metricValue(metricsUrl, 'nodejs_eventloop_lag_p99_seconds', gw.headers);
          // the histogram samples the interval between 10 ms timer ticks
          // (EVENT_LOOP_SAMPLE_MS in MetricsService): an idle loop reads ~10 ms,
          // the delay is what exceeds it
          if (p99 !== undefined) loopDelays.push(Math.max(0, p99 * 1000 - EVENT_LOOP_SAMPLE_MS));
        }
      }
    }
    return Object.fromEntries(runs.map((r, j) => [names[j], merge(r)]));
  };

  const stream = (level) =>
    run(
      'streamLatency',
      {
        path: COMPLETIONS_PATH,
        body: completionsBody({
          model: 'gpt-4o-mini',
          directive: simDirective({ ttftMs: 0, tokens: level.tokens, tps: level.tps }),
          stream: true,
        }),
        concurrency: level.concurrency,
        rampMs: Math.min(1_000, level.durationMs / rounds / 5),
      },
      level.durationMs / rounds,
      level.concurrency === 1,
    );

  ctx.log?.(`  peers: streaming c=${c1.concurrency}`);
  const s1 = await stream(c1);
  ctx.log?.(`  peers: streaming c=${c64.concurrency}`);
  const s64 = await stream(c64);
  ctx.log?.(`  peers: non-streaming, ${throughputLoad.concurrency} clients`);
  const tp = await run(
    'throughput',
    {
      path: COMPLETIONS_PATH,
      body: completionsBody({
        model: 'gpt-4o-mini',
        directive: simDirective({ ttftMs: 0, tokens: 12, tps: 0 }),
        stream: false,
      }),
      concurrency: throughputLoad.concurrency,
    },
    throughputLoad.durationMs / rounds,
    false,
  );

  for (const [label, r] of [
    ['c=1', s1],
    ['c=64', s64],
    ['non-stream', tp],
  ])
    ctx.log?.(
      `  peers ${label}: ${names.map((n) => `${n} ${r[n].ok} ok/${r[n].failed} failed`).join(', ')}` +
        (names.some((n) => r[n].failed)
          ? ` errors ${JSON.stringify(Object.fromEntries(names.map((n) => [n, r[n].errors])))}`
          : ''),
    );

  const pick = (r, f) => Object.fromEntries(names.map((n) => [n, round(f(r[n]))]));
  const cpuPer1k = (x) => (x.tokens > 0 ? (x.serverCpuMs * 1000) / x.tokens : null);
  const perRequestCpu = (x) => (x.ok > 0 ? x.serverCpuMs / x.ok : null);
  const peerRow = (name, unit, values, { added = true } = {}) => {
    const r = { name, unit, values };
    if (added) {
      r.added = Object.fromEntries(
        names
          .filter((n) => n !== 'direct')
          .map((n) => [
            n,
            values[n] === null || values.direct === null ? null : round(values[n] - values.direct),
          ]),
      );
    }
    return r;
  };
  const rows = [
    peerRow(
      'stream c=1 TTFT p50',
      'ms',
      pick(s1, (x) => x.ttftMs.p50),
    ),
    peerRow(
      'stream c=1 TTFT p99',
      'ms',
      pick(s1, (x) => x.ttftMs.p99),
    ),
    peerRow(
      'stream c=64 TTFT p50',
      'ms',
      pick(s64, (x) => x.ttftMs.p50),
    ),
    peerRow(
      'stream c=64 TTFT p99',
      'ms',
      pick(s64, (x) => x.ttftMs.p99),
    ),
    peerRow('stream c=64 server CPU per 1k tokens', 'ms', pick(s64, cpuPer1k)),
    peerRow(
      'non-stream requests/s',
      'req/s',
      pick(tp, (x) => x.rps),
      { added: false },
    ),
    peerRow(
      'non-stream latency p50',
      'ms',
      pick(tp, (x) => x.latencyMs.p50),
    ),
    peerRow(
      'non-stream latency p99',
      'ms',
      pick(tp, (x) => x.latencyMs.p99),
    ),
    peerRow('non-stream server CPU per request', 'ms', pick(tp, perRequestCpu)),
  ];
  const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
  const ratio = (a, b) =>
    typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null;
  const T = PEER_TARGETS;
  const check = (name, value, bound, kind, detail) => {
    const pass = typeof value === 'number' && (kind === 'max' ? value <= bound : value >= bound);
    return { name, value: round(value), bound: round(bound), kind, pass, detail };
  };
  const rps = byName['non-stream requests/s'].values;
  const c64p50 = byName['stream c=64 TTFT p50'].added;
  const c64p99 = byName['stream c=64 TTFT p99'].added;
  const c1p50 = byName['stream c=1 TTFT p50'].added;
  const c1p99 = byName['stream c=1 TTFT p99'].added;
  const cpu = byName['stream c=64 server CPU per 1k tokens'].added;
  const loopP99 = loopDelays.length ? Math.max(...loopDelays) : null;
  const checks = [
    check(
      'non-stream req/s: Switchboard / Portkey',
      ratio(rps.switchboard, rps.portkey),
      T.nonStreamVsPortkey,
      'min',
      `${rps.switchboard} vs ${rps.portkey} req/s`,
    ),
    check(
      'stream c=64 added TTFT p50: Switchboard / Portkey',
      ratio(c64p50.switchboard, c64p50.portkey),
      T.c64TtftP50VsPortkey,
      'max',
      `+${c64p50.switchboard} vs +${c64p50.portkey} ms`,
    ),
    check(
      'stream c=64 added TTFT p99: Switchboard / Portkey',
      ratio(c64p99.switchboard, c64p99.portkey),
      T.c64TtftP99VsPortkey,
      'max',
      `+${c64p99.switchboard} vs +${c64p99.portkey} ms`,
    ),
    check('stream c=1 added TTFT p50 (ms)', c1p50.switchboard, T.c1TtftAddedP50Ms, 'max'),
    check('stream c=1 added TTFT p99 (ms)', c1p99.switchboard, T.c1TtftAddedP99Ms, 'max'),
    check(
      'CPU per 1k streamed tokens: Switchboard / floor',
      ratio(cpu.switchboard, cpu.floor),
      T.cpuPer1kVsFloor,
      'max',
      `${cpu.switchboard} vs ${cpu.floor} ms (own CPU, simulator excluded)`,
    ),
    check(
      'event-loop delay p99 during c=1 (embedded, ms)',
      loopP99,
      T.eventLoopDelayP99Ms,
      'max',
      `worst of ${loopDelays.length} slices`,
    ),
  ];
  return {
    rows,
    checks,
    raw: { c1: s1, c64: s64, throughput: tp, eventLoopDelayP99Ms: loopDelays },
  };
}

/** The peer table: one column per target, `added` (target - direct) in brackets. */
export function renderPeerTable(result) {
  const names = Object.keys(result.rows[0].values);
  const fmtv = (v) =>
    v === null || v === undefined ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
  const head = ['metric', ...names, 'unit'];
  const body = result.rows.map((r) => [
    r.name,
    ...names.map((n) =>
      r.added && n !== 'direct' ? `${fmtv(r.values[n])} (+${fmtv(r.added[n])})` : fmtv(r.values[n]),
    ),
    r.unit,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const checks = result.checks.map(
    (c) =>
      `${c.pass ? 'PASS' : 'MISS'}  ${c.name}: ${fmtv(c.value)} (target ${c.kind === 'max' ? '<=' : '>='} ${fmtv(c.bound)})${c.detail ? `  [${c.detail}]` : ''}`,
  );
  return [
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...body.map(line),
    '',
    ...checks,
  ].join('\n');
}
