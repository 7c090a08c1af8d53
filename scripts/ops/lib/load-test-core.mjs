// Streaming load generator behind `npm run load-test`: N concurrent OpenAI-style SSE
// streams, time to first token and error rate.

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
export const LIMITS = { concurrency: 2000, requests: 100_000, durationSeconds: 3600 };

export function isLoopback(url) {
  const host = new URL(url).hostname;
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

/** Nearest-rank percentile of an ascending-sorted array; undefined when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Validates and bounds options; throws with a message naming the bad option. */
export function normalizeOptions(o) {
  if (!o.url) throw new Error('--url is required');
  let parsed;
  try {
    parsed = new URL(o.url);
  } catch {
    throw new Error(`--url is not a URL: ${o.url}`);
  }
  if (!['http:', 'https:'].includes(parsed.protocol)) throw new Error('--url must be http(s)');
  if (!o.allowRemote && !isLoopback(o.url)) {
    throw new Error(
      `refusing to load-test non-loopback host ${parsed.hostname} without --allow-remote`,
    );
  }
  const int = (name, value, max) => {
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new Error(`--${name} must be an integer in [1, ${max}]`);
    return value;
  };
  const concurrency = int('concurrency', o.concurrency, LIMITS.concurrency);
  return {
    ...o,
    url: o.url.replace(/\/+$/, ''),
    concurrency,
    requests: int('requests', o.requests ?? concurrency, LIMITS.requests),
    durationSeconds: int('duration', o.durationSeconds, LIMITS.durationSeconds),
    timeoutSeconds: int('timeout', o.timeoutSeconds, LIMITS.durationSeconds),
  };
}

/** One streamed completion. Resolves to { ok, status, ttftMs?, chunks, error? }; never rejects. */
export async function streamOnce(o, signal) {
  const started = performance.now();
  const result = { ok: false, status: 0, ttftMs: undefined, chunks: 0, error: undefined };
  try {
    const res = await fetch(`${o.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${o.key}`,
      },
      body: JSON.stringify({
        model: o.model,
        stream: true,
        max_tokens: o.maxTokens,
        messages: [{ role: 'user', content: o.prompt }],
      }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutSeconds * 1000)]),
    });
    result.status = res.status;
    if (res.status !== 200 || !res.body) {
      result.error = `HTTP ${res.status}`;
      await res.body?.cancel();
      return result;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    let done = false;
    for await (const bytes of res.body) {
      buffer += decoder.decode(bytes, { stream: true });
      let boundary;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        for (const line of frame.split('\n')) {
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') {
            done = true;
            continue;
          }
          const event = JSON.parse(data);
          if (event.error) {
            result.error = `stream error: ${event.error.code ?? event.error.message ?? 'unknown'}`;
            continue;
          }
          const text = event.choices?.[0]?.delta?.content;
          if (text) {
            result.chunks++;
            result.ttftMs ??= performance.now() - started;
          }
        }
      }
    }
    if (!done && !result.error) result.error = 'stream ended without [DONE]';
    result.ok = done && !result.error;
  } catch (e) {
    result.error =
      e.name === 'TimeoutError' ? 'timeout' : e.name === 'AbortError' ? 'aborted' : e.message;
  }
  return result;
}

/** Runs the test: `concurrency` workers pull from `requests` until done or the duration ends. */
export async function runLoadTest(options, { onResult } = {}) {
  const o = normalizeOptions(options);
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(), o.durationSeconds * 1000);
  const started = performance.now();
  const results = [];
  let issued = 0;
  const worker = async () => {
    while (issued < o.requests && !stop.signal.aborted) {
      issued++;
      const r = await streamOnce(o, stop.signal);
      if (stop.signal.aborted && r.error === 'aborted') break;
      results.push(r);
      onResult?.(r, results.length, o.requests);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  } finally {
    clearTimeout(deadline);
  }
  return summarize(results, (performance.now() - started) / 1000, o);
}

export function summarize(results, elapsedSeconds, o) {
  const ttft = results
    .filter((r) => r.ok && r.ttftMs !== undefined)
    .map((r) => r.ttftMs)
    .sort((a, b) => a - b);
  const errors = results.filter((r) => !r.ok);
  const errorKinds = {};
  for (const r of errors) errorKinds[r.error] = (errorKinds[r.error] ?? 0) + 1;
  const round = (v) => (v === undefined ? null : Math.round(v * 10) / 10);
  return {
    url: o.url,
    concurrency: o.concurrency,
    completed: results.length,
    ok: results.length - errors.length,
    errors: errors.length,
    errorRate: results.length === 0 ? 0 : errors.length / results.length,
    errorKinds,
    ttftMs: {
      p50: round(percentile(ttft, 50)),
      p95: round(percentile(ttft, 95)),
      p99: round(percentile(ttft, 99)),
    },
    chunks: results.reduce((n, r) => n + r.chunks, 0),
    elapsedSeconds: round(elapsedSeconds),
  };
}
