/**
 * Child processes of a benchmark run: the simulator, gateways and the load
 * worker each get their own process (and event loop). Every child is started
 * through bash so its open-file limit can be raised first; `exec` keeps the pid,
 * so /proc/<pid> is the node process itself.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { get } from './load-client.mjs';

const children = new Set();
const WANTED_NOFILE = 65535;

// Never leave servers behind, whatever ends the run.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function withFileLimit(argv) {
  // Raise the soft limit as far as allowed; fall back to the hard limit.
  const script = `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  return ['-c', script, 'bench-child', ...argv];
}

function unresolvedAliases(dir) {
  const hits = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (readFileSync(file, 'utf8').includes('require("@switchboard/')) hits.push(file);
  }
  return hits;
}

/**
 * Copies the build output to `<root>/bench/.run-dist-<pid>` (inside the repository,
 * so node_modules still resolves) and runs from the copy: a rebuild of dist/ by
 * someone else in the same checkout cannot swap files under a running benchmark.
 * If the copy still holds `@switchboard/*` imports (tsc ran, tsc-alias did not),
 * tsc-alias is applied to the copy. Removed when the process exits.
 */
export function snapshotDist(root, dist) {
  const dir = path.join(root, 'bench', `.run-dist-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(dist, dir, { recursive: true });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  if (unresolvedAliases(dir).length > 0) {
    execFileSync(
      process.execPath,
      [
        path.join(root, 'node_modules/tsc-alias/dist/bin/index.js'),
        '-p',
        path.join(root, 'tsconfig.build.json'),
        '--outDir',
        dir,
      ],
      { cwd: root, stdio: 'ignore' },
    );
    const left = unresolvedAliases(dir);
    if (left.length > 0)
      throw new Error(`unresolved @switchboard imports in the build output, e.g. ${left[0]}`);
  }
  return dir;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns `node <args>` with the raised fd limit; output goes to `logFile` lines kept in memory (tail only). */
export function spawnNode(nodeArgs, { env = {}, cwd, stdio = 'pipe', label } = {}) {
  const child = spawn('bash', withFileLimit([process.execPath, ...nodeArgs]), {
    cwd,
    serialization: 'advanced', // typed arrays of samples cross the IPC channel as is
    env: { ...process.env, ...env },
    stdio: stdio === 'ipc' ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.label = label ?? path.basename(nodeArgs.at(-1) ?? 'node');
  child.tail = [];
  const keep = (buf) => {
    for (const line of buf.toString().split('\n')) {
      if (!line) continue;
      child.tail.push(line);
      if (child.tail.length > 40) child.tail.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child, graceMs = 5_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Polls `url` every `everyMs` until it answers 200; resolves with ms since `since`. */
export async function waitFor200(
  url,
  { since = performance.now(), timeoutMs = 30_000, everyMs = 10, child } = {},
) {
  const deadline = since + timeoutMs;
  while (performance.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `${child.label} exited (${child.exitCode ?? child.signalCode}):\n${child.tail.join('\n')}`,
      );
    }
    const r = await get(url, { timeoutMs: 1_000 });
    if (r.status === 200) return performance.now() - since;
    await new Promise((res) => setTimeout(res, everyMs));
  }
  throw new Error(
    `${url} not ready after ${timeoutMs} ms${child ? `:\n${child.tail.join('\n')}` : ''}`,
  );
}

/** Resident set size of a live process in KiB (VmRSS). */
export function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux; /proc/<pid>/stat counts in these ticks

/** the process ids of a process and of every process below it */
function withDescendants(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks;
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue; // gone
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      } catch {
        // thread gone
      }
    }
  }
  return out;
}

/**
 * User + system CPU time a process and its descendants (the gateway's embedded
 * database process, a peer's workers) have used so far, in ms (10 ms resolution).
 */
export function cpuMs(pid) {
  let ms = 0;
  for (const p of withDescendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
    } catch {
      // exited meanwhile
    }
  }
  return ms;
}

/** CPU ms used by the given pids between `begin()` and `end()`. */
export function cpuMeter(pids) {
  const start = pids.map(cpuMs);
  return { end: () => pids.reduce((sum, pid, i) => sum + cpuMs(pid) - start[i], 0) };
}

export function fileLimit(pid) {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : undefined;
}

export async function startSimulator(dist) {
  const port = await freePort();
  const child = spawnNode([path.join(dist, 'apps/simulator/src/main.js'), '--port', String(port)], {
    env: { HOST: '127.0.0.1' },
    label: 'simulator',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/health`, { child });
  return { child, port, url, pid: child.pid };
}

export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

/**
 * Starts a gateway bound to loopback and pointed at the simulator. Resolves once
 * it is spawned (not ready): callers time readiness themselves.
 */
export async function spawnGateway(
  dist,
  simulatorUrl,
  { env = {}, nodeFlags = [], dataDir: keepDir } = {},
) {
  const port = await freePort();
  // a caller-owned data dir survives the process (restart measurements)
  const dataDir = keepDir ?? mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));
  const t0 = performance.now();
  const child = spawnNode([...nodeFlags, path.join(dist, 'apps/gateway/src/main.js')], {
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      SIMULATOR_URL: simulatorUrl,
      ADMIN_API_KEY: ADMIN_KEY,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      ...env,
    },
    label: 'gateway',
  });
  if (!keepDir) child.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    url,
    pid: child.pid,
    spawnedAt: t0,
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  };
}

export async function startGateway(dist, simulatorUrl, opts) {
  const gw = await spawnGateway(dist, simulatorUrl, opts);
  gw.bootMs = await waitFor200(`${gw.url}/ready`, { since: gw.spawnedAt, child: gw.child });
  return gw;
}

/** Starts bench/load-worker.mjs and returns `call(op, args)` over IPC. */
export function startLoadWorker(workerPath) {
  const child = spawnNode([workerPath], { stdio: 'ipc', label: 'load-worker' });
  let seq = 0;
  const pending = new Map();
  child.on('message', ({ id, result, error }) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (error) p.reject(new Error(`load-worker: ${error}`));
    else p.resolve(result);
  });
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`load-worker exited (${code})`));
    pending.clear();
  });
  return {
    child,
    pid: child.pid,
    call(op, args) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, op, args });
      });
    },
    close() {
      if (child.connected) child.disconnect();
      return exited(child);
    },
  };
}

/** Reads one unlabelled gauge/counter value from a Prometheus exposition. */
export async function metricValue(url, name, headers = {}) {
  const r = await get(url, { headers });
  const m = new RegExp(`^${name}(?:\\{\\})? ([0-9.eE+-]+)$`, 'm').exec(r.body);
  return m ? Number(m[1]) : undefined;
}

export async function simStats(simUrl) {
  const r = await get(`${simUrl}/_sim/stats`);
  return r.status === 200 ? JSON.parse(r.body) : undefined;
}
