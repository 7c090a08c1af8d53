import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './gateway.harness';

/** Debian's chromium; CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** screenshots of the browser tests (gitignored) */
export const SHOTS = join(ROOT, 'test-results', 'web');

/** The same build `npm run build` makes, into a throwaway directory (for WEB_DIR). */
export async function buildWebApp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-web-'));
  const build = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'apps/web', '--logLevel', 'warn'],
    { cwd: ROOT, env: { ...process.env, WEB_OUT_DIR: dir }, encoding: 'utf8' },
  );
  if (build.status !== 0) throw new Error(`web build failed: ${build.stderr}`);
  await mkdir(SHOTS, { recursive: true });
  return dir;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
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
}
