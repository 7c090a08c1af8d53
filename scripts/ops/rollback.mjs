#!/usr/bin/env node
// Redeploys the previously deployed image tag (from pulumi stack history) or --to TAG.
import {
  capture,
  CLI_HINTS,
  cliArgs,
  fail,
  requireCli,
  requireStack,
  run,
  stackConfig,
  UsageError,
} from './lib/cli.mjs';
import { previousImageTag } from './lib/image-history.mjs';
import { imageExists, repositoryUrl } from './lib/stack.mjs';

const USAGE = `usage: npm run rollback -- --stack <dev|prod> [--to TAG] [--yes]

  --stack NAME   stack to roll back (required)
  --to TAG       tag to deploy (default: the last successfully deployed tag before the current one)
  --yes          skip pulumi's confirmation prompt

Only the image changes; infrastructure stays as the current program describes it.`;

const args = cliArgs(USAGE, {
  stack: { type: 'string' },
  to: { type: 'string' },
  yes: { type: 'boolean', default: false },
});
let stack;
try {
  stack = requireStack(args.stack);
} catch (e) {
  if (e instanceof UsageError) fail(`${e.message}\n\n${USAGE}`, 2);
  throw e;
}
for (const cli of ['pulumi', 'aws']) requireCli(cli, CLI_HINTS[cli]);

const current = capture('pulumi', ['config', 'get', 'imageTag', '--stack', stack], {
  optional: true,
});
let target = args.to;
if (!target) {
  const history = JSON.parse(
    capture('pulumi', ['stack', 'history', '--stack', stack, '--json']) || '[]',
  );
  target = previousImageTag(history, current);
  if (!target)
    fail(
      `no earlier image tag in the history of ${stack} (current ${current ?? 'unset'}); pass --to TAG`,
    );
}
if (target === current) fail(`${target} is already the configured tag`);

const region = stackConfig(stack)['aws:region'];
const repoUrl = repositoryUrl(stack);
if (!repoUrl) fail(`stack ${stack} has no ECR repository; nothing to roll back to`);
if (!imageExists(repoUrl, target, region))
  fail(`${repoUrl}:${target} is not in ECR (expired by the lifecycle policy?)`);

process.stderr.write(`Rolling ${stack} back from ${current ?? 'unset'} to ${target}\n`);
run('pulumi', ['config', 'set', 'imageTag', target, '--stack', stack]);
run('pulumi', [
  'up',
  '--stack',
  stack,
  '--message',
  `rollback to ${target}`,
  ...(args.yes ? ['--yes'] : []),
]);
process.stdout.write(`Rolled back ${stack} to ${target}; commit Pulumi.${stack}.yaml.\n`);
