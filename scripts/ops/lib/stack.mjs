// Pulumi/ECR look-ups shared by deploy and rollback.
import { capture, fail, stackNames } from './cli.mjs';

/** ECR repository URL from the stack state (works before the first full deploy). */
export function repositoryUrl(stack) {
  const exported = capture('pulumi', ['stack', 'export', '--stack', stack], { optional: true });
  if (!exported) return undefined;
  const resources = JSON.parse(exported).deployment?.resources ?? [];
  const repo = resources.find((r) => r.urn === stackNames(stack).ecrUrn);
  return repo?.outputs?.repositoryUrl;
}

export function splitRepositoryUrl(url) {
  const slash = url.indexOf('/');
  if (slash < 0) fail(`unexpected ECR repository URL ${url}`);
  return { registry: url.slice(0, slash), name: url.slice(slash + 1) };
}

export function imageExists(repoUrl, tag, region) {
  const { name } = splitRepositoryUrl(repoUrl);
  return (
    capture(
      'aws',
      [
        'ecr',
        'describe-images',
        '--region',
        region,
        '--repository-name',
        name,
        '--image-ids',
        `imageTag=${tag}`,
        '--output',
        'json',
      ],
      { optional: true },
    ) !== undefined
  );
}

/**
 * Provider-key secrets that do not exist yet or have no current value. ECS cannot start a
 * task whose secret has no value, so deploy stops before that happens.
 */
export function secretsWithoutValue(secretNames, region) {
  return secretNames.filter((name) => {
    const described = capture(
      'aws',
      [
        'secretsmanager',
        'describe-secret',
        '--region',
        region,
        '--secret-id',
        name,
        '--output',
        'json',
      ],
      {
        optional: true,
      },
    );
    if (!described) return true;
    const stages = Object.values(JSON.parse(described).VersionIdsToStages ?? {}).flat();
    return !stages.includes('AWSCURRENT');
  });
}
