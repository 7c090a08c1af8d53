#!/usr/bin/env node
// Tails the gateway's CloudWatch log group for a stack.
import {
  CLI_HINTS,
  cliArgs,
  fail,
  requireCli,
  requireStack,
  run,
  stackConfig,
  stackNames,
  UsageError,
} from './lib/cli.mjs';

const USAGE = `usage: npm run logs -- --stack <dev|prod> [--since 10m] [--filter PATTERN] [--once]

  --stack NAME       stack whose gateway logs to tail (required)
  --since DURATION   how far back to start, e.g. 5m, 2h, 1d (default 10m)
  --filter PATTERN   CloudWatch Logs filter pattern, e.g. '{ $.level >= 50 }' for errors
  --once             print and exit instead of following`;

const args = cliArgs(USAGE, {
  stack: { type: 'string' },
  since: { type: 'string', default: '10m' },
  filter: { type: 'string' },
  once: { type: 'boolean', default: false },
});
let stack;
try {
  stack = requireStack(args.stack);
} catch (e) {
  if (e instanceof UsageError) fail(`${e.message}\n\n${USAGE}`, 2);
  throw e;
}
requireCli('aws', CLI_HINTS.aws);
const region = stackConfig(stack)['aws:region'];
run('aws', [
  'logs',
  'tail',
  stackNames(stack).logGroup,
  '--region',
  region,
  '--since',
  args.since,
  '--format',
  'short',
  ...(args.once ? [] : ['--follow']),
  ...(args.filter ? ['--filter-pattern', args.filter] : []),
]);
