/** Summarises a V8 .cpuprofile (from `node --cpu-prof`) into its top self-time frames. */
import { readFileSync } from 'node:fs';

function where(url) {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  // node:internal/deps/undici/undici is fetch; keep core paths apart so it shows.
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:');
  // The build output, or the benchmark's per-run copy of it (bench/.run-dist-<pid>).
  const own = /\/(?:dist|\.run-dist-\d+)\/(.*)$/.exec(url);
  return own ? `switchboard ${own[1]}` : url;
}

export function summarizeProfile(file, top = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const frames = new Map();
  const modules = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame: cf } = byId.get(id);
    const name = cf.functionName || '(anonymous)';
    const mod = ['(idle)', '(program)', '(garbage collector)'].includes(name)
      ? name
      : where(cf.url);
    const key = `${name} ${mod}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    frames.set(key, (frames.get(key) ?? 0) + us);
    modules.set(mod, (modules.get(mod) ?? 0) + us);
  }
  // Inclusive: a sample counts once for every module anywhere on its stack. Node
  // core internals (microtask queue, streams) sit under everything and say
  // nothing, so only packages, the gateway's own files and undici (fetch) count.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map();
  for (const [id, us] of selfUs) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur).callFrame;
      if (cf.functionName === '(root)' || !cf.url) continue;
      const mod = where(cf.url);
      if (!mod.startsWith('node:') || mod.includes('undici')) seen.add(mod);
    }
    for (const m of seen) inclusive.set(m, (inclusive.get(m) ?? 0) + us);
  }
  const busy = total - (modules.get('(idle)') ?? 0);
  const rank = (m) =>
    [...m.entries()]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({
        frame: k,
        ms: Math.round(us / 1000),
        pctOfBusy: Math.round((us / busy) * 1000) / 10,
      }));
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    topFrames: rank(frames),
    topModules: rank(modules),
    inclusiveModules: rank(inclusive),
  };
}
