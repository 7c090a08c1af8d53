#!/usr/bin/env node
/**
 * The floor of the benchmark: the least a proxy in Node can do. node:http in,
 * undici `Pool` (keep-alive) out, bytes passed through untouched, back-pressure
 * honoured, the upstream request aborted when the client goes away. No parsing,
 * no auth, no accounting: whatever a gateway costs above this is its own work.
 *
 *   UPSTREAM_URL=http://127.0.0.1:4010 PORT=8090 node bench/floor-proxy.mjs
 *
 * Listens on 127.0.0.1 only.
 */
import http from 'node:http';
import { once } from 'node:events';
import { Pool } from 'undici';

const upstream = process.env.UPSTREAM_URL;
const port = Number(process.env.PORT ?? 0);
if (!upstream) throw new Error('UPSTREAM_URL is required');

const pool = new Pool(upstream, { connections: null, keepAliveTimeout: 30_000 });
// hop-by-hop headers (RFC 9110 section 7.6.1) and the ones undici sets itself
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

function strip(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) out[k] = v;
  return out;
}

const server = http.createServer(async (req, res) => {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  try {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const up = await pool.request({
      method: req.method,
      path: req.url,
      headers: strip(req.headers),
      body: hasBody ? req : undefined,
      signal: abort.signal,
    });
    res.writeHead(up.statusCode, strip(up.headers));
    for await (const chunk of up.body) if (!res.write(chunk)) await once(res, 'drain');
    res.end();
  } catch {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"upstream failed"}}');
    } else res.destroy();
  }
});

server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`floor proxy on http://127.0.0.1:${server.address().port} -> ${upstream}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void pool.close().finally(() => process.exit(0));
  });
