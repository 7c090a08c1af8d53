/**
 * Load patterns. These run inside the load-worker process (bench/load-worker.mjs),
 * never in the process that hosts the simulator or the gateway, so the client's
 * event loop does not share time with the server being measured. They return
 * counts and raw samples; percentiles are taken by the runner.
 */
import http from 'node:http';
import { TOKEN_FRAME, keepAliveAgent, requestOnce, streamOnce } from './load-client.mjs';
import { Samples } from './stats.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Closed loop: `concurrency` clients each run streams back to back for
 * `durationMs`. Client starts are spread over `rampMs` so they do not all hit
 * the first byte at the same instant.
 */
export async function streamLatency({
  tgt,
  path,
  wire = 'openai',
  body,
  concurrency,
  durationMs,
  rampMs = 0,
}) {
  const agent = keepAliveAgent();
  const isToken = TOKEN_FRAME[wire];
  if (!isToken)
    throw new Error(`no token detector for wire "${wire}" (see TOKEN_FRAME in load-client.mjs)`);
  const ttft = new Samples();
  const gaps = new Samples();
  const onGap = (g) => gaps.push(g);
  const errors = new Map();
  let ok = 0;
  let failed = 0;
  let tokens = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;

  const client = async (i) => {
    if (rampMs > 0) await sleep((rampMs * i) / concurrency);
    while (performance.now() < deadline) {
      const r = await streamOnce({ tgt, agent, path, body, isToken, onGap });
      if (r.ok) {
        ok++;
        tokens += r.tokens;
        ttft.push(r.ttftMs);
      } else {
        failed++;
        errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
        await sleep(10); // a failing target must not turn this into a busy loop
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
  const elapsedMs = performance.now() - t0;
  agent.destroy();
  return {
    target: tgt.name,
    concurrency,
    elapsedMs,
    ok,
    failed,
    errors: Object.fromEntries(errors),
    tokens,
    // Raw samples (typed arrays survive the IPC channel's advanced serialization),
    // so the runner can merge interleaved rounds before taking percentiles.
    ttft: ttft.toArray().slice(),
    gaps: gaps.toArray().slice(),
  };
}

/** Closed loop of short non-streaming calls; requests per second and latency. */
export async function throughput({ tgt, path, body, concurrency, durationMs }) {
  const agent = keepAliveAgent();
  const lat = new Samples();
  const errors = new Map();
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const client = async () => {
    while (performance.now() < deadline) {
      const r = await requestOnce({ tgt, agent, path, body });
      if (r.ok) {
        ok++;
        lat.push(r.ms);
      } else {
        failed++;
        const key = r.error ?? `HTTP ${r.status}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => client()));
  const elapsedMs = performance.now() - t0;
  agent.destroy();
  return {
    target: tgt.name,
    concurrency,
    elapsedMs,
    ok,
    failed,
    errors: Object.fromEntries(errors),
    latencies: lat.toArray().slice(),
  };
}

/** Idle streams held open by this worker between `openIdle` and `abortIdle`. */
const idle = { requests: [], agent: undefined, responses: 0, errors: 0 };

/**
 * Opens `count` more streams that stay silent (the directive sets a huge ttft);
 * `reset` first drops any held from a previous call. The caller paces batches
 * (see idleStreams) so the server's accept queue never overflows: an overflow
 * turns into 1 s SYN retransmits that look like server slowness.
 */
export async function openIdle({ tgt, path, body, count, reset = false }) {
  if (reset) await abortIdle();
  idle.agent ??= new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const t0 = performance.now();
  const connected = [];
  for (let j = 0; j < count; j++) {
    const req = http.request({
      host: tgt.host,
      port: tgt.port,
      method: 'POST',
      path,
      agent: idle.agent,
      headers: {
        ...tgt.headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        accept: 'text/event-stream',
      },
    });
    req.on('response', (res) => {
      idle.responses++;
      res.resume();
    });
    req.on('error', () => {
      idle.errors++;
    });
    connected.push(
      new Promise((resolve) => {
        req.once('socket', (s) => (s.connecting ? s.once('connect', resolve) : resolve()));
        req.once('error', resolve);
      }),
    );
    req.end(body);
    idle.requests.push(req);
  }
  await Promise.all(connected);
  return { held: idle.requests.length, errors: idle.errors, ms: performance.now() - t0 };
}

/** Destroys every idle stream's client connection at once. */
export async function abortIdle() {
  const n = idle.requests.length;
  const result = { aborted: n, responses: idle.responses, errors: idle.errors };
  for (const req of idle.requests) req.destroy();
  idle.requests = [];
  idle.agent?.destroy();
  idle.agent = undefined;
  idle.responses = 0;
  idle.errors = 0;
  return result;
}

export const operations = { streamLatency, throughput, openIdle, abortIdle };
