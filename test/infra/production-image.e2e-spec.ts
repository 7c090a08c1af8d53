import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestPostgres, type TestPostgres } from '@switchboard/storage/testing';
import { CONTAINER_USER, DATA_DIR, WRITABLE_PATH } from '../../pulumi/service';

/**
 * Reproduces the Dockerfile's runtime stage without a Docker engine: the built dist/ plus a
 * production-only `npm ci` in an empty directory, then boots that tree as the container would.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const ENTRY = path.join('dist', 'apps', 'gateway', 'src', 'main.js');
const INSTALL_ARGS = ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'];
/** Removed from the production dependencies (the embedded database). */
const PRUNED = 'node_modules/@electric-sql';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds unless dist/ is newer than every source file. */
function ensureBuilt(): void {
  const entry = path.join(ROOT, ENTRY);
  const sources = Math.max(
    newestMtime(path.join(ROOT, 'apps')),
    newestMtime(path.join(ROOT, 'libs')),
  );
  if (fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= sources) return;
  run(['run', 'build'], ROOT);
}

/** Runs npm, surfacing its output when it fails. */
function run(args: string[], cwd: string): void {
  try {
    execFileSync(npm, args, { cwd, stdio: 'pipe', encoding: 'utf8' });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(
      `npm ${args.join(' ')} failed:\n${(stdout ?? '').slice(-3000)}\n${(stderr ?? '').slice(-3000)}`,
      { cause: e },
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The environment a fresh container gets: nothing inherited from the developer's shell. */
function containerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: os.tmpdir(),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    ...extra,
  };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function start(
  appDir: string,
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [ENTRY], {
    cwd: appDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, exited };
}

async function waitForStatus(
  url: string,
  status: number,
  timeoutMs: number,
  exited: Promise<Exit>,
): Promise<void> {
  let early: Exit | undefined;
  void exited.then((e) => (early = e));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (early)
      throw new Error(
        `gateway exited (${String(early.code)}) before ${url} answered:\n${early.output}`,
      );
    try {
      const res = await fetch(url);
      if (res.status === status) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms).unref(),
    ),
  ]);
}

describe('production image (runtime stage reproduced without Docker)', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  let appDir: string;
  let tmp: string;
  let pg: TestPostgres;

  beforeAll(async () => {
    pg = await createTestPostgres();
    ensureBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-image-'));
    appDir = path.join(tmp, 'app');
    fs.mkdirSync(appDir);
    fs.cpSync(path.join(ROOT, 'dist'), path.join(appDir, 'dist'), { recursive: true });
    for (const file of ['package.json', 'package-lock.json'])
      fs.copyFileSync(path.join(ROOT, file), path.join(appDir, file));
    run([...INSTALL_ARGS, '--prefer-offline'], appDir);
    fs.rmSync(path.join(appDir, PRUNED), { recursive: true, force: true });
  }, 300_000);

  afterAll(async () => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    await pg?.drop();
  }, 120_000);

  it('pins the base image by digest and leaves the embedded database out', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim@sha256:[0-9a-f]{64}$/m);
    for (const from of dockerfile.match(/^FROM .*$/gm) ?? [])
      expect(from).toMatch(/^FROM \$\{NODE_IMAGE\} AS [a-z-]+$/);
    expect(dockerfile).toContain(`RUN rm -rf ${PRUNED}`);
    expect(fs.existsSync(path.join(appDir, PRUNED))).toBe(false);
  });

  it('declares the writable path as a VOLUME whose data directory the runtime user owns', () => {
    const lines = runtimeStage.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const user = CONTAINER_USER.split(':')[0] === '1000' ? 'node' : CONTAINER_USER;
    const volume = at(new RegExp(`^VOLUME \\["${WRITABLE_PATH}"\\]$`));
    const mkdir = at(new RegExp(`^RUN mkdir -p ${DATA_DIR}`));
    const chown = at(new RegExp(`chown ${user}:${user} ${DATA_DIR}`));
    expect(volume).toBeGreaterThan(-1);
    // Docker discards changes made under a VOLUME after it is declared.
    expect(mkdir).toBeGreaterThan(-1);
    expect(chown).toBeGreaterThanOrEqual(mkdir);
    expect(chown).toBeLessThan(volume);
    expect(at(/^USER node$/)).toBeGreaterThan(volume);
    expect(runtimeStage).toMatch(new RegExp(`DATA_DIR=${DATA_DIR}$`, 'm'));
    expect(runtimeStage).toMatch(/METRICS_PORT=9464/);
  });

  it('sends only what the build copies: sources and manifests, never secrets, state or infrastructure', () => {
    const ignore = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const excluded of [
      '**/node_modules',
      'dist',
      'data',
      '.env',
      '.env.*',
      '.git',
      'pulumi',
      'test',
    ])
      expect(ignore).toContain(excluded);
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1].split(/\s+/),
    );
    expect(new Set(copied)).toEqual(
      new Set([
        'apps',
        'libs',
        'nest-cli.json',
        'package-lock.json',
        'package.json',
        'tsconfig.build.json',
        'tsconfig.json',
      ]),
    );
    for (const source of copied) {
      expect(ignore).not.toContain(source);
      expect(fs.existsSync(path.join(ROOT, source))).toBe(true);
    }
  });

  it('installs production dependencies with the same npm ci flags as the Dockerfile', () => {
    expect(dockerfile).toContain(
      `RUN --mount=type=cache,target=/root/.npm npm ${INSTALL_ARGS.join(' ')}`,
    );
  });

  it('runs the runtime stage on Node 24 as a non-root user behind tini, exposing 8080 (and 9464 for metrics) with a /health check', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24[-\w.]*@sha256:[0-9a-f]{64}$/m);
    expect(runtimeStage).toMatch(/^USER node$/m);
    expect(runtimeStage).toMatch(/^EXPOSE 8080 9464$/m);
    expect(runtimeStage).toMatch(/^HEALTHCHECK [\s\S]*\/health/m);
    expect(runtimeStage).toContain('ENTRYPOINT ["/usr/bin/tini"');
    expect(runtimeStage).toContain('DATA_DIR=/tmp/');
    expect(runtimeStage).not.toMatch(/COPY .*--from=build \/app\/node_modules/);
  });

  it('contains no @pulumi packages, no dev tools and no embedded database', () => {
    const modules = path.join(appDir, 'node_modules');
    expect(fs.existsSync(path.join(modules, '@nestjs', 'core'))).toBe(true);
    for (const devOnly of [
      '@pulumi',
      'typescript',
      'jest',
      '@swc',
      'eslint',
      'ts-node',
      'prettier',
      '@electric-sql',
    ]) {
      expect([devOnly, fs.existsSync(path.join(modules, devOnly))]).toEqual([devOnly, false]);
    }
  });

  it('boots on PostgreSQL to /ready with DATA_DIR under a temp dir, metrics on METRICS_PORT only, then drains and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const dataDir = path.join(tmp, 'data');
    const { child, exited } = start(
      appDir,
      containerEnv({
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        DATA_DIR: dataDir,
        DATABASE_URL: pg.url,
        SHUTDOWN_DRAIN_SECONDS: '0',
      }),
    );
    try {
      await waitForStatus(`http://127.0.0.1:${port}/ready`, 200, 90_000, exited);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      // the web app is part of dist/: served at / with its CSP, no extra step
      const web = await fetch(`http://127.0.0.1:${port}/`);
      expect(web.status).toBe(200);
      expect(web.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await web.text()).toMatch(
        /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/,
      );
      expect(fs.existsSync(dataDir)).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
      child.kill('SIGTERM');
      const exit = await withTimeout(exited, 20_000, 'shutdown');
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  it('refuses to start without DATABASE_URL, saying why', async () => {
    const { child, exited } = start(
      appDir,
      containerEnv({ PORT: String(await freePort()), DATA_DIR: path.join(tmp, 'no-db') }),
    );
    try {
      const exit = await withTimeout(exited, 30_000, 'startup failure');
      expect(exit.code).toBe(1);
      expect(exit.output).toContain(
        'DATABASE_URL is not set and this build has no embedded database',
      );
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it.each([
    ['REDIS_URL', 'ftp://bad'],
    ['DATABASE_URL', 'not-a-url'],
  ])(
    'fails fast when %s is invalid (%s), naming the variable',
    async (name, value) => {
      const port = await freePort();
      const { child, exited } = start(
        appDir,
        containerEnv({
          PORT: String(port),
          DATA_DIR: path.join(tmp, `bad-${name}`),
          [name]: value,
        }),
      );
      try {
        const exit = await withTimeout(exited, 30_000, 'startup failure');
        expect(exit.code).not.toBe(0);
        expect(exit.code).not.toBeNull();
        expect(exit.output).toContain(name);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
    60_000,
  );
});
