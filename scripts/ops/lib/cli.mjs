// Helpers shared by the ops scripts: argument parsing, external CLIs, stack config.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const STACKS = ['dev', 'prod'];

export class UsageError extends Error {}

/** Parses flags; `--help` prints usage and exits 0, an unknown flag prints usage and exits 2. */
export function cliArgs(usage, options) {
  try {
    const { values } = parseArgs({
      options: { ...options, help: { type: 'boolean' } },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    return values;
  } catch (e) {
    fail(`${e.message}\n\n${usage}`, 2);
  }
}

export function fail(message, code = 1) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

/** Exits with a clear message when a required command-line tool is not installed. */
export function requireCli(command, hint) {
  const probe = spawnSync(command, ['--version'], { stdio: 'ignore' });
  if (probe.error && probe.error.code === 'ENOENT') {
    fail(`'${command}' is not installed or not on PATH. ${hint}`, 127);
  }
}

export const CLI_HINTS = {
  docker: 'Install Docker (https://docs.docker.com/get-docker/) and start the engine.',
  pulumi: 'Install the Pulumi CLI (https://www.pulumi.com/docs/install/) and run `pulumi login`.',
  aws: 'Install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and configure credentials.',
  git: 'Install git.',
};

/** Runs a command with inherited stdio; exits with its status on failure. */
export function run(command, args, { input, cwd = ROOT } = {}) {
  process.stderr.write(`$ ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, {
    cwd,
    stdio: [input === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit'],
    input,
  });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0)
    fail(`${command} ${args[0]} exited with ${result.status}`, result.status ?? 1);
}

/** Runs a command and returns its stdout, or undefined when it fails and `optional` is set. */
export function capture(command, args, { optional = false, cwd = ROOT } = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0) {
    if (optional) return undefined;
    fail(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stderr}`);
  }
  return result.stdout.trim();
}

export function requireStack(stack) {
  if (!stack) throw new UsageError('--stack is required');
  if (!STACKS.includes(stack))
    fail(`unknown stack '${stack}' (expected one of ${STACKS.join(', ')})`, 2);
  return stack;
}

/**
 * Stack configuration as Pulumi resolves it: Pulumi.yaml defaults overridden by
 * Pulumi.<stack>.yaml. Keys are returned without the project prefix (aws:* keep theirs).
 */
export function stackConfig(stack, root = ROOT) {
  const project = yaml.load(readFileSync(join(root, 'Pulumi.yaml'), 'utf8'));
  const stackFile = yaml.load(readFileSync(join(root, `Pulumi.${stack}.yaml`), 'utf8')) ?? {};
  const config = {};
  for (const [key, spec] of Object.entries(project.config ?? {})) {
    if (spec && spec.default !== undefined) config[key] = spec.default;
  }
  const prefix = `${project.name}:`;
  for (const [key, value] of Object.entries(stackFile.config ?? {})) {
    config[key.startsWith(prefix) ? key.slice(prefix.length) : key] = value;
  }
  return config;
}

/** Deterministic resource names set by the Pulumi program (pulumi/index.ts, pulumi/service.ts). */
export function stackNames(stack) {
  const base = `switchboard-${stack}`;
  return {
    base,
    logGroup: `/switchboard/${base}`,
    ecrUrn: `urn:pulumi:${stack}::switchboard::switchboard:registry:Registry$aws:ecr/repository:Repository::${base}-ecr`,
    /** Secrets Manager secret holding a provider key (values are put out of band). */
    providerSecret: (envName) => ({
      name: `${base}/${envName}`,
      urn: `urn:pulumi:${stack}::switchboard::switchboard:service:Service$aws:secretsmanager/secret:Secret::${base}-${envName
        .toLowerCase()
        .replace(/_/g, '-')}`,
    }),
  };
}
