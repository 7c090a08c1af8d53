/**
 * Peers measured next to Switchboard in the same run, each its own process
 * pointed at the same simulator:
 * - the floor: bench/floor-proxy.mjs, a byte pass-through (node:http + undici);
 * - Portkey's open-source gateway (`@portkey-ai/gateway`, pinned devDependency),
 *   with the simulator as an OpenAI-compatible custom host.
 * Both listen on 127.0.0.1 only (Portkey through the loopback-only preload).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, spawnNode, waitFor200 } from './processes.mjs';
import { get } from './load-client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export async function startFloorProxy(simUrl) {
  const port = await freePort();
  const child = spawnNode([path.join(here, '..', 'floor-proxy.mjs')], {
    env: { UPSTREAM_URL: simUrl, PORT: String(port) },
    label: 'floor-proxy',
  });
  const url = `http://127.0.0.1:${port}`;
  // the simulator's /health through the proxy: both are up
  await waitFor200(`${url}/health`, { child });
  return { child, pid: child.pid, port, url, headers: { authorization: 'Bearer bench' } };
}

function portkeyEntry() {
  const pkg = require.resolve('@portkey-ai/gateway/package.json');
  return path.join(path.dirname(pkg), 'build', 'start-server.js');
}

export async function startPortkey(simUrl) {
  const port = await freePort();
  const child = spawnNode(
    [
      '--import',
      pathToFileURL(path.join(here, 'loopback-only.mjs')).href,
      portkeyEntry(),
      `--port=${port}`,
      '--headless',
    ],
    { env: { NODE_ENV: 'production' }, label: 'portkey' },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 30_000;
  // Portkey answers GET / once it listens
  for (;;) {
    if (child.exitCode !== null) throw new Error(`portkey exited:\n${child.tail.join('\n')}`);
    const r = await get(url, { timeoutMs: 1_000 });
    if (r.status > 0 && r.status < 500) break;
    if (performance.now() > deadline)
      throw new Error(`portkey not listening after 30 s:\n${child.tail.join('\n')}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  return {
    child,
    pid: child.pid,
    port,
    url,
    headers: {
      authorization: 'Bearer bench',
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${simUrl}/v1`,
    },
  };
}
