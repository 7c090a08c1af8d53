/**
 * Raw node:http client for the benchmark. The same code talks to the simulator
 * and to the gateway (both serve POST /v1/chat/completions), so any difference
 * in the numbers comes from what sits between the client and the simulator.
 * fetch/undici would add its own per-request cost and hide small deltas.
 */
import http from 'node:http';

/** A target is where requests go: `{ name, host, port, headers }`. */
export function target(name, port, headers = {}, host = '127.0.0.1') {
  return { name, host, port, headers };
}

export function keepAliveAgent() {
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
}

/** The `#sim` directive line understood by the simulator. */
export function simDirective({ ttftMs = 0, tokens = 12, tps = 0 } = {}) {
  return `#sim ttft=${ttftMs} tokens=${tokens} tps=${tps}`;
}

/** OpenAI Chat Completions body (the wire both targets speak). */
export function completionsBody({ model, directive, stream }) {
  const body = {
    model,
    messages: [{ role: 'user', content: `Benchmark request.\n${directive}` }],
  };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return JSON.stringify(body);
}

/** Switchboard `/chat` body. */
export function chatBody({ model, directive }) {
  return JSON.stringify({
    messages: [{ role: 'user', content: `Benchmark request.\n${directive}` }],
    options: { model: { id: model } },
  });
}

/**
 * Recognises frames that carry answer text. The simulator opens with an empty
 * `"content":""` role chunk, which is not a token, so it is skipped on both sides.
 */
export const TOKEN_FRAME = {
  openai(frame) {
    const i = frame.indexOf('"content":"');
    return i >= 0 && frame.charCodeAt(i + 11) !== 34; /* '"' */
  },
  switchboard(frame) {
    return frame.includes('"s":"answer"');
  },
};

/**
 * One streaming request. Resolves with the time to the first answer token and
 * the gaps between successive answer tokens (frames that arrive in one socket
 * read share a timestamp, i.e. gap 0: coalescing shows up in the distribution).
 * Never rejects: failures come back as `{ ok: false, error }`.
 */
export function streamOnce({ tgt, agent, path, body, isToken, onGap, timeoutMs = 120_000 }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let first = -1;
    let last = -1;
    let tokens = 0;
    let rest = '';
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = http.request(
      {
        host: tgt.host,
        port: tgt.port,
        method: 'POST',
        path,
        agent,
        headers: {
          ...tgt.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          accept: 'text/event-stream',
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          res.on('end', () => finish({ ok: false, error: `HTTP ${res.statusCode}` }));
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          const now = performance.now();
          const text = rest + chunk;
          let start = 0;
          for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n', start)) {
            const frame = text.slice(start, end);
            start = end + 2;
            if (!isToken(frame)) continue;
            tokens++;
            if (first < 0) first = now;
            else onGap?.(now - last);
            last = now;
          }
          rest = text.slice(start);
        });
        res.on('end', () =>
          finish(
            first < 0
              ? { ok: false, error: 'no tokens' }
              : { ok: true, ttftMs: first - t0, totalMs: performance.now() - t0, tokens },
          ),
        );
        res.on('error', (e) => finish({ ok: false, error: e.message }));
        // A connection cut mid-stream may close without 'end' or 'error'.
        res.on('close', () => finish({ ok: false, error: 'closed before end' }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
    }, timeoutMs);
    req.on('error', (e) => finish({ ok: false, error: e.message }));
    req.end(body);
  });
}

/** One non-streaming request; resolves `{ ok, ms, status }`. */
export function requestOnce({ tgt, agent, path, body, timeoutMs = 30_000 }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let settled = false;
    const finish = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = http.request(
      {
        host: tgt.host,
        port: tgt.port,
        method: 'POST',
        path,
        agent,
        headers: {
          ...tgt.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          finish({
            ok: res.statusCode === 200,
            status: res.statusCode,
            ms: performance.now() - t0,
          }),
        );
        res.on('error', (e) => finish({ ok: false, error: e.message }));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
    req.on('error', (e) => finish({ ok: false, error: e.message }));
    req.end(body);
  });
}

/** GET returning `{ status, body }`, or `{ status: 0 }` when the connection fails. */
export function get(url, { headers = {}, timeoutMs = 5_000 } = {}) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** A JSON request (admin API set-up); resolves `{ status, json }`, rejects on connection errors. */
export function sendJson(url, { method = 'POST', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          ...headers,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, json, text });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}
