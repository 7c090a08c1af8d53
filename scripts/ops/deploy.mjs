#!/usr/bin/env node
// Builds and pushes the gateway image under an immutable tag (the git sha), then `pulumi up`.
import {
  capture,
  CLI_HINTS,
  cliArgs,
  fail,
  requireCli,
  requireStack,
  ROOT,
  run,
  stackConfig,
  stackNames,
  UsageError,
} from './lib/cli.mjs';
import {
  imageExists,
  repositoryUrl,
  secretsWithoutValue,
  splitRepositoryUrl,
} from './lib/stack.mjs';

const USAGE = `usage: npm run deploy -- --stack <dev|prod> [options]

  --stack NAME     stack to deploy (required)
  --tag TAG        image tag (default: the 12-character git sha of HEAD)
  --allow-dirty    deploy uncommitted changes (tag gets a -dirty-<time> suffix)
  --platform P     docker build platform (default: the stack's cpuArchitecture, linux/amd64 or linux/arm64)
  --yes            skip pulumi's confirmation prompt

Needs docker, pulumi and aws CLIs, AWS credentials and \`pulumi login\`.
The first deploy creates the ECR repository and the provider-key secrets, then stops until
their values are put. The deployed tag is written to Pulumi.<stack>.yaml: commit it.`;

const args = cliArgs(USAGE, {
  stack: { type: 'string' },
  tag: { type: 'string' },
  'allow-dirty': { type: 'boolean', default: false },
  platform: { type: 'string' },
  yes: { type: 'boolean', default: false },
});

let stack;
try {
  stack = requireStack(args.stack);
} catch (e) {
  if (e instanceof UsageError) fail(`${e.message}\n\n${USAGE}`, 2);
  throw e;
}
for (const cli of ['git', 'docker', 'pulumi', 'aws']) requireCli(cli, CLI_HINTS[cli]);

const config = stackConfig(stack);
const region = config['aws:region'];
if (!region) fail(`Pulumi.${stack}.yaml has no aws:region`);
// The image must match the task's runtimePlatform or ECS cannot start it.
const platform =
  args.platform ?? (config.cpuArchitecture === 'ARM64' ? 'linux/arm64' : 'linux/amd64');
const sha = capture('git', ['rev-parse', '--short=12', 'HEAD']);
const sourcePaths = ['apps', 'libs', 'package.json', 'package-lock.json', 'Dockerfile'];
const dirty = capture('git', ['status', '--porcelain', '--', ...sourcePaths]) !== '';
if (dirty && !args['allow-dirty'] && !args.tag) {
  fail(
    `${sourcePaths.join(', ')} have uncommitted changes; commit them (the tag must name the source) or pass --allow-dirty`,
  );
}
const tag = args.tag ?? (dirty ? `${sha}-dirty-${Math.floor(Date.now() / 1000)}` : sha);
if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) fail(`invalid image tag ${tag}`, 2);
const yes = args.yes ? ['--yes'] : [];

const names = stackNames(stack);
const providerSecrets = (config.providerSecrets ?? []).map((envName) =>
  names.providerSecret(envName),
);

let repoUrl = repositoryUrl(stack);
if (!repoUrl) {
  // First deploy: create only the ECR repository and the provider-key secrets, so there is
  // somewhere to push to and somewhere to put the keys before any task starts.
  process.stderr.write(
    `No ECR repository in stack ${stack} yet; creating it and the provider-key secrets first.\n`,
  );
  const targets = [names.ecrUrn, ...providerSecrets.map((s) => s.urn)].flatMap((urn) => [
    '--target',
    urn,
  ]);
  run('pulumi', [
    'up',
    '--stack',
    stack,
    ...targets,
    '--message',
    'bootstrap ECR repository and secrets',
    ...yes,
  ]);
  repoUrl = repositoryUrl(stack);
  if (!repoUrl) fail('ECR repository still missing after the bootstrap update');
}

// ECS cannot start a task whose secret has no value; stop before rolling one out.
const empty = secretsWithoutValue(
  providerSecrets.map((s) => s.name),
  region,
);
if (empty.length > 0) {
  const commands = empty.map(
    (name) =>
      `  aws secretsmanager put-secret-value --region ${region} --secret-id ${name} --secret-string '<key>'`,
  );
  fail(
    `these secrets have no value yet:\n${commands.join('\n')}\nput the values, then run the deploy again.`,
  );
}

if (imageExists(repoUrl, tag, region)) {
  process.stderr.write(
    `${repoUrl}:${tag} already exists (tags are immutable); skipping build and push.\n`,
  );
} else {
  const { registry } = splitRepositoryUrl(repoUrl);
  const password = capture('aws', ['ecr', 'get-login-password', '--region', region]);
  run('docker', ['login', '--username', 'AWS', '--password-stdin', registry], { input: password });
  run('docker', [
    'build',
    '--platform',
    platform,
    '--pull',
    '--label',
    `org.opencontainers.image.revision=${sha}`,
    '-t',
    `${repoUrl}:${tag}`,
    ROOT,
  ]);
  run('docker', ['push', `${repoUrl}:${tag}`]);
}

run('pulumi', ['config', 'set', 'imageTag', tag, '--stack', stack]);
run('pulumi', ['up', '--stack', stack, '--message', `deploy ${tag}`, ...yes]);
const url = capture('pulumi', ['stack', 'output', 'serviceUrl', '--stack', stack], {
  optional: true,
});
process.stdout.write(`Deployed ${tag} to ${stack}${url ? `: ${url}` : ''}\n`);
