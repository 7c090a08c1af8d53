#!/usr/bin/env node
// `npm start` runs this first: it runs `npm run build` only when a source changed since the
// last successful build it ran, so restarting an unchanged tree skips the compile.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = join(ROOT, 'dist', '.build-stamp');
/** what `npm run build` reads; a step added to the build adds its sources here */
const INPUTS = [
  'apps',
  'libs',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];
const SKIP = new Set(['node_modules', 'dist', '.git']);

/** newest mtime under `path`; directories count too, so a deleted file is a change */
function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  let latest = stat.mtimeMs;
  if (stat.isDirectory())
    for (const entry of readdirSync(path))
      if (!SKIP.has(entry)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const built = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
const changed = Math.max(...INPUTS.map((p) => newest(join(ROOT, p))));
if (built > changed) {
  process.stdout.write(`build is up to date (${new Date(built).toISOString()}); not rebuilding\n`);
  process.exit(0);
}
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const started = new Date();
const run = spawnSync(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
// the stamp carries the time the build started: a source saved during the build is newer
mkdirSync(dirname(STAMP), { recursive: true });
writeFileSync(STAMP, `${started.toISOString()}\n`);
utimesSync(STAMP, started, started);
