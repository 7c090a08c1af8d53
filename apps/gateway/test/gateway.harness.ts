import { waitFor as waitForCondition } from '@switchboard/common/testing';
import { loadConfig } from '@switchboard/config';
import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { createGateway, type Gateway, type GatewayOptions } from '../src/bootstrap';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const auth = { authorization: `Bearer ${ADMIN_KEY}` };

/** Simulated catalogue entries with short timeouts, so failure tests stay fast. */
export const TEST_MODELS = {
  models: [
    {
      id: 'sim-gpt',
      provider: 'openai',
      upstreamModel: 'gpt-4o-mini',
      contextWindow: 16000,
      maxOutputTokens: 4096,
      pricing: { input: 0.15, cachedInput: 0.075, output: 0.6, checked: '2025-10-01' },
      capabilities: ['chat', 'streaming', 'tools', 'vision', 'json_schema'],
      ttftTimeoutMs: 1500,
      idleTimeoutMs: 1500,
    },
    {
      id: 'sim-coder',
      provider: 'openai',
      upstreamModel: 'gpt-5-mini',
      contextWindow: 16000,
      maxOutputTokens: 4096,
      pricing: {
        input: 0.25,
        cachedInput: 0.025,
        output: 2,
        codeInterpreterSession: 0.03,
        checked: '2025-10-01',
      },
      capabilities: ['chat', 'streaming', 'tools', 'vision', 'json_schema', 'code_interpreter'],
      ttftTimeoutMs: 1500,
      idleTimeoutMs: 1500,
    },
    {
      id: 'sim-embed',
      provider: 'openai',
      upstreamModel: 'text-embedding-3-small',
      contextWindow: 8191,
      maxOutputTokens: 0,
      pricing: { input: 0.02, cachedInput: 0.02, output: 0, checked: '2025-10-01' },
      capabilities: ['embeddings'],
    },
  ],
};

export interface Harness {
  gateway: Gateway;
  sim: RunningSimulator;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/** A real gateway on an ephemeral port, talking HTTP to a real simulator. */
export async function startHarness(
  env: Record<string, string> = {},
  options: Omit<GatewayOptions, 'logger'> = {},
): Promise<Harness> {
  const sim = await startSimulator({ port: 0, host: '127.0.0.1' });
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-gw-'));
  const modelsFile = join(dataDir, 'models.json');
  await writeFile(modelsFile, JSON.stringify(TEST_MODELS));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_API_KEY: ADMIN_KEY,
    SIMULATOR_URL: sim.url,
    MODELS_FILE: modelsFile,
    LOG_LEVEL: 'silent',
    ...env,
  });
  let gateway: Gateway;
  try {
    gateway = await createGateway(config, { ...options, logger: pino({ level: 'silent' }) });
  } catch (e) {
    await sim.close();
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    gateway,
    sim,
    url: gateway.url,
    dataDir,
    close: async () => {
      await gateway.close();
      await sim.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SseFrame {
  data?: string;
  comment?: string;
}

/** A minimal, strict SSE reader: frames are separated by a blank line. */
export async function* readSse(res: Response): AsyncGenerator<SseFrame> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (raw.startsWith(':')) yield { comment: raw.slice(1).trim() };
      else if (raw.startsWith('data: ')) yield { data: raw.slice(6) };
      else throw new Error(`malformed SSE frame: ${JSON.stringify(raw)}`);
    }
  }
  if (buf.trim()) throw new Error(`trailing bytes after last frame: ${JSON.stringify(buf)}`);
}

export function chatBody(text: string, extra: Record<string, unknown> = {}) {
  return {
    messages: [{ role: 'user', content: text }],
    options: { model: { id: 'sim-gpt' } },
    ...extra,
  };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = auth,
  signal?: AbortSignal,
) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

/**
 * `waitFor` of `@switchboard/common/testing` with this file's historical signature. `ms`
 * only bounds a failure: it is generous, because this machine may be loaded.
 */
export function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms = 10_000,
  step = 5,
): Promise<void> {
  return waitForCondition(cond, { timeoutMs: ms, intervalMs: step });
}

export const ROOT = resolve(__dirname, '../../..');

const SPAWN_BOOT_MS = 80_000;

/** Boots the real gateway entry point in a child process (TypeScript via swc). */
export async function spawnGateway(
  env: Record<string, string>,
  opts: { startTimeoutMs?: number } = {},
): Promise<{ child: ChildProcess; url: string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/gateway/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    // a bound for a hung child only: compiling the tree and booting takes over 20 s on a
    // loaded machine; below the e2e timeout so the child's stderr is reported
    const timer = setTimeout(
      () => reject(new Error(`gateway did not start: ${stderr}`)),
      opts.startTimeoutMs ?? SPAWN_BOOT_MS,
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const j = JSON.parse(line) as { msg?: string; url?: string };
        if (j.url && j.msg?.startsWith('switchboard ready')) {
          clearTimeout(timer);
          resolveUrl(j.url);
        }
      } catch {
        /* not a log line */
      }
    });
    void exit.then((code) => reject(new Error(`gateway exited ${code}: ${stderr}`)));
  });
  return { child, url, exit };
}
