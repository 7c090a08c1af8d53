// First load of the web app in headless Chromium against the built gateway
// (`npm run build` first): bundle sizes (raw and gzip) and, over N cold loads,
// time to the sign-in form and, signed in, time until the chat page is
// interactive (models loaded, Message box enabled). Prints JSON.
//   node bench/web-load.mjs [runs=7]
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = new URL('..', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 7);
const ADMIN = 'bench-admin-key-0123456789abcdef';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function bundle() {
  const dir = join(ROOT, 'dist/web/assets');
  const out = {};
  for (const f of await readdir(dir)) {
    if (/\.(br|gz)$/.test(f)) continue;
    const b = await readFile(join(dir, f));
    const br = await readFile(join(dir, `${f}.br`)).catch(() => null);
    out[f] = {
      bytes: b.length,
      gzipBytes: gzipSync(b, { level: 9 }).length,
      ...(br ? { brotliBytes: br.length } : {}),
    };
  }
  return out;
}

async function startGateway(dataDir) {
  const child = spawn(process.execPath, ['dist/apps/gateway/src/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ADMIN_API_KEY: ADMIN,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const j = JSON.parse(line);
        if (j.url && j.msg?.startsWith('switchboard ready')) resolve(j.url);
      } catch {
        /* banner */
      }
    });
    child.on('exit', (c) => reject(new Error(`gateway exited ${c}`)));
  });
  return { child, url };
}

const dataDir = await mkdtemp(join(tmpdir(), 'sb-webbench-'));
const { child, url } = await startGateway(dataDir);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-quic',
    '--no-first-run',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const signIn = [];
  const chat = [];
  const dcl = [];
  for (let i = 0; i < runs; i++) {
    // a new context per run: empty cache, a cold first load
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    await page.getByLabel('API key').waitFor();
    signIn.push(await page.evaluate(() => performance.now()));
    dcl.push(
      await page.evaluate(
        () => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
      ),
    );
    // signed in: the token is in sessionStorage; reload (cache now warm for the assets)
    await page.evaluate((k) => sessionStorage.setItem('switchboard.token', k), ADMIN);
    await page.reload({ waitUntil: 'commit' });
    await page.locator('#model option').first().waitFor({ state: 'attached' });
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
    chat.push(await page.evaluate(() => performance.now()));
    await ctx.close();
  }
  const r = (xs) => ({
    medianMs: Math.round(median(xs)),
    minMs: Math.round(Math.min(...xs)),
    maxMs: Math.round(Math.max(...xs)),
  });
  console.log(
    JSON.stringify(
      {
        runs,
        bundle: await bundle(),
        coldLoadToSignInForm: r(signIn),
        coldDomContentLoaded: r(dcl),
        signedInReloadToChatInteractive: r(chat),
        chromium: browser.version(),
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  child.kill('SIGTERM');
  await new Promise((res) => child.on('exit', res));
  await rm(dataDir, { recursive: true, force: true });
}
