#!/usr/bin/env node
// Tasks needed and monthly cost (on-demand vs Spot) per stack for a given workload.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs, fail, ROOT, STACKS, stackConfig } from './lib/cli.mjs';
import { peakStreams, planStack } from './lib/capacity-plan.mjs';

const USAGE = `usage: npm run capacity -- --users-per-day N [options]

  --users-per-day N        distinct users per day (required)
  --peak-ratio R           share of daily users active at the same moment at peak (default 0.1)
  --answer-tokens N        average answer length in tokens (default 500)
  --tokens-per-second N    model output speed (default 50)
  --think-seconds N        reading/typing time between an active user's requests (default 30)
  --streams-per-task N     streams one task holds (default: streamsPerTask from --bench-file)
  --bench-file PATH        benchmark results (default bench/results/latest.json, from npm run bench)
  --utilization U          plan tasks to run at this share of their capacity (default 0.7)
  --peak-hours H           hours per day at peak load; minTasks otherwise (default 8)
  --stack NAME             only this stack (default: ${STACKS.join(' and ')}); prices come from Pulumi.<stack>.yaml
  --json                   machine-readable output`;

const args = cliArgs(USAGE, {
  'users-per-day': { type: 'string' },
  'peak-ratio': { type: 'string', default: '0.1' },
  'answer-tokens': { type: 'string', default: '500' },
  'tokens-per-second': { type: 'string', default: '50' },
  'think-seconds': { type: 'string', default: '30' },
  'streams-per-task': { type: 'string' },
  'bench-file': { type: 'string', default: join(ROOT, 'bench', 'results', 'latest.json') },
  utilization: { type: 'string', default: '0.7' },
  'peak-hours': { type: 'string', default: '8' },
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

function streamsPerTask() {
  if (args['streams-per-task'] !== undefined)
    return { value: positive('streams-per-task'), source: '--streams-per-task' };
  const file = args['bench-file'];
  if (existsSync(file)) {
    const value = Number(JSON.parse(readFileSync(file, 'utf8')).streamsPerTask);
    if (Number.isFinite(value) && value > 0) return { value, source: file };
  }
  fail(
    `no per-task stream capacity: run \`npm run bench\` (writes streamsPerTask to ${file}) or pass --streams-per-task`,
    2,
  );
}

const capacity = streamsPerTask();
const workload = {
  usersPerDay: positive('users-per-day'),
  peakConcurrencyRatio: positive('peak-ratio', { max: 1 }),
  answerTokens: positive('answer-tokens'),
  tokensPerSecond: positive('tokens-per-second'),
  thinkSeconds: positive('think-seconds', { allowZero: true }),
  streamsPerTask: capacity.value,
  utilization: positive('utilization', { max: 1 }),
  peakHours: positive('peak-hours', { max: 24, allowZero: true }),
};
const stacks = args.stack ? [args.stack] : STACKS;
for (const stack of stacks) if (!STACKS.includes(stack)) fail(`unknown stack '${stack}'`, 2);

const demand = peakStreams(workload);
const plans = Object.fromEntries(
  stacks.map((stack) => [stack, planStack(workload, stackConfig(stack))]),
);

if (args.json) {
  process.stdout.write(
    `${JSON.stringify({ workload, streamsPerTaskSource: capacity.source, demand, plans }, null, 2)}\n`,
  );
} else {
  const usd = (n) => `$${n.toFixed(0)}`;
  const lines = [
    `Workload: ${workload.usersPerDay} users/day, ${(workload.peakConcurrencyRatio * 100).toFixed(1)}% active at peak ` +
      `-> ${demand.activeUsers.toFixed(0)} active users`,
    `Stream: ${workload.answerTokens} tokens at ${workload.tokensPerSecond} tok/s = ${demand.streamSeconds.toFixed(1)} s, ` +
      `${workload.thinkSeconds} s between requests -> ${Math.ceil(demand.streams)} concurrent streams at peak`,
    `Per-task capacity: ${workload.streamsPerTask} streams (${capacity.source}), planned at ${workload.utilization * 100}%`,
    '',
  ];
  for (const [stack, p] of Object.entries(plans)) {
    lines.push(
      `[${stack}] task ${p.taskCpu / 1024} vCPU / ${p.taskMemory / 1024} GB: ${p.peakTasks} tasks at peak, ` +
        `${p.averageTasks.toFixed(1)} on average (${workload.peakHours} h/day at peak)` +
        (p.exceedsMaxTasks
          ? `  ! exceeds maxTasks ${p.maxTasks}: raise it in Pulumi.${stack}.yaml`
          : ''),
      `  monthly: on-demand ${usd(p.monthly.onDemand)} | Spot ${usd(p.monthly.spot)} | ` +
        `configured mix ${usd(p.monthly.configuredMix)}  (incl. fixed ${usd(p.monthly.fixed)})`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
