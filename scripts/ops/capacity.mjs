#!/usr/bin/env node
// Tasks needed and the monthly bill, line by line, per stack for a given workload.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs, fail, ROOT, STACKS, stackConfig } from './lib/cli.mjs';
import { benchMeasurements, peakStreams, planStack } from './lib/capacity-plan.mjs';

const USAGE = `usage: npm run capacity -- --users-per-day N [options]

Workload
  --users-per-day N          distinct users per day (required)
  --requests-per-user N      chat requests per user per day (default 10)
  --peak-ratio R             share of daily users active at the same moment at peak (default 0.1)
  --answer-tokens N          average answer length in tokens (default 500)
  --tokens-per-second N      model output speed (default 50)
  --think-seconds N          reading/typing time between an active user's requests (default 30)
  --active-hours H           hours per day with traffic; a 0-ACU Aurora pauses the rest (default 8)
  --peak-hours H             hours per day at peak load; minTasks otherwise (default 4)
Per-request assumptions (not measured; change them to match your traffic)
  --request-kb N             request body size (default 8)
  --response-bytes-per-token N  SSE bytes per streamed token (default 200)
  --db-acu-seconds-per-request N  Aurora ACU-seconds per request (default 0.02)
  --cache-ecpu-per-request N Valkey ECPUs per request (default 10)
Measurements and prices
  --bench-file PATH          benchmark results (default bench/results/latest.json, from npm run bench)
  --prices PATH              dated price table (default scripts/ops/prices.json)
  --utilization U            plan tasks at this share of their CPU and memory (default 0.7)
  --no-free-tier             do not subtract the always-free CloudWatch/CloudFront allowances
  --stack NAME               only this stack (default: ${STACKS.join(' and ')})
  --json                     machine-readable output`;

const args = cliArgs(USAGE, {
  'users-per-day': { type: 'string' },
  'requests-per-user': { type: 'string', default: '10' },
  'peak-ratio': { type: 'string', default: '0.1' },
  'answer-tokens': { type: 'string', default: '500' },
  'tokens-per-second': { type: 'string', default: '50' },
  'think-seconds': { type: 'string', default: '30' },
  'active-hours': { type: 'string', default: '8' },
  'peak-hours': { type: 'string', default: '4' },
  'request-kb': { type: 'string', default: '8' },
  'response-bytes-per-token': { type: 'string', default: '200' },
  'db-acu-seconds-per-request': { type: 'string', default: '0.02' },
  'cache-ecpu-per-request': { type: 'string', default: '10' },
  'bench-file': { type: 'string', default: join(ROOT, 'bench', 'results', 'latest.json') },
  prices: { type: 'string', default: join(ROOT, 'scripts', 'ops', 'prices.json') },
  utilization: { type: 'string', default: '0.7' },
  'no-free-tier': { type: 'boolean', default: false },
  stack: { type: 'string' },
  json: { type: 'boolean', default: false },
});

function positive(flag, { max = Infinity, allowZero = false } = {}) {
  const raw = args[flag];
  const value = Number(raw);
  if (
    raw === undefined ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0) ||
    value > max
  ) {
    fail(
      `--${flag} must be a number in ${allowZero ? '[' : '('}0, ${max}] (got ${raw ?? 'nothing'})\n\n${USAGE}`,
      2,
    );
  }
  return value;
}

function readJson(file, what) {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`${what} ${file} is not valid JSON: ${e.message}`, 2);
  }
}

const benchFile = args['bench-file'];
const results = readJson(benchFile, 'bench results');
if (!results)
  fail(
    `no benchmark results at ${benchFile}: run \`npm run bench\` (it measures CPU per streamed token and memory per stream)`,
    2,
  );
let bench;
try {
  bench = benchMeasurements(results);
} catch (e) {
  fail(`${benchFile}: ${e.message}; re-run \`npm run bench\``, 2);
}
const prices = readJson(args.prices, 'price table');
if (!prices) fail(`no price table at ${args.prices}`, 2);

const activeHours = positive('active-hours', { max: 24 });
const workload = {
  usersPerDay: positive('users-per-day'),
  requestsPerUser: positive('requests-per-user'),
  peakConcurrencyRatio: positive('peak-ratio', { max: 1 }),
  answerTokens: positive('answer-tokens'),
  tokensPerSecond: positive('tokens-per-second'),
  thinkSeconds: positive('think-seconds', { allowZero: true }),
  activeHours,
  peakHours: positive('peak-hours', { max: activeHours, allowZero: true }),
  requestKb: positive('request-kb', { allowZero: true }),
  responseBytesPerToken: positive('response-bytes-per-token', { allowZero: true }),
  dbAcuSecondsPerRequest: positive('db-acu-seconds-per-request', { allowZero: true }),
  cacheEcpuPerRequest: positive('cache-ecpu-per-request', { allowZero: true }),
  dbIoPerRequest: 10,
  dbKbPerRequest: 2,
  logKbPerRequest: 1,
  imageStoreGb: 1,
  utilization: positive('utilization', { max: 1 }),
};
const stacks = args.stack ? [args.stack] : STACKS;
for (const stack of stacks) if (!STACKS.includes(stack)) fail(`unknown stack '${stack}'`, 2);

const demand = peakStreams(workload);
const plans = {};
for (const stack of stacks) {
  try {
    plans[stack] = planStack(workload, stackConfig(stack), prices, bench, {
      freeTier: !args['no-free-tier'],
    });
  } catch (e) {
    fail(`[${stack}] ${e.message}`, 2);
  }
}

if (args.json) {
  process.stdout.write(
    `${JSON.stringify({ workload, bench: { file: benchFile, ...bench }, pricesAsOf: prices.asOf, demand, plans }, null, 2)}\n`,
  );
} else {
  const usd = (n) => `$${n.toFixed(2)}`;
  const out = [
    `Workload: ${workload.usersPerDay} users/day x ${workload.requestsPerUser} requests over ${workload.activeHours} h/day; ` +
      `${Math.ceil(demand.streams)} concurrent streams at peak (${(workload.peakConcurrencyRatio * 100).toFixed(1)}% of users active)`,
    `Measured (${benchFile}, ${bench.measuredAt ?? 'undated'}): ${bench.cpuMsPer1kTokens} ms CPU per 1k streamed tokens, ` +
      `${bench.rssPerStreamKiB} KiB per stream over ${bench.baseRssMiB} MiB idle`,
    `Prices: ${args.prices} as of ${prices.asOf}${args['no-free-tier'] ? '' : ' (always-free tiers subtracted; --no-free-tier to keep them)'}`,
    '',
  ];
  for (const [stack, p] of Object.entries(plans)) {
    const c = p.streamsPerTask;
    out.push(
      `[${stack}] ${p.region}, task ${p.taskCpu / 1024} vCPU / ${p.taskMemory / 1024} GB: ` +
        `${c.value} streams per task (CPU ${c.byCpu}, memory ${c.byMemory}: ${c.binds} binds); ` +
        `${p.peakTasks} task(s) at peak, ${p.averageTasks.toFixed(2)} on average` +
        (p.exceedsMaxTasks
          ? `  ! exceeds maxTasks ${p.maxTasks}: raise it in Pulumi.${stack}.yaml`
          : ''),
    );
    for (const l of p.lines)
      out.push(`  ${l.item.padEnd(34)} ${usd(l.monthly).padStart(10)}  ${l.detail}`);
    out.push(`  ${'Total per month'.padEnd(34)} ${usd(p.total).padStart(10)}`, '');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
