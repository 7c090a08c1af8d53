import {
  checkAll,
  containerDefinitions,
  invariants,
  looksSecret,
  ResourceRecord,
  T,
} from './policy';
import { runMockedStack } from './testing/mock-stack';

type Mutation = (resources: ResourceRecord[]) => void;

function find(resources: ResourceRecord[], type: string, nameIncludes = ''): ResourceRecord {
  const found = resources.find((r) => r.type === type && r.name.includes(nameIncludes));
  if (!found) throw new Error(`no ${type} ~${nameIncludes}`);
  return found;
}

function editContainer(
  resources: ResourceRecord[],
  edit: (c: Record<string, unknown>) => void,
): void {
  const task = find(resources, T.taskDefinition);
  const containers = containerDefinitions(task) as unknown as Record<string, unknown>[];
  edit(containers[0]);
  task.props.containerDefinitions = JSON.stringify(containers);
}

/** Each case breaks one thing in an otherwise compliant stack and names the rule that must catch it. */
const cases: [string, string, Mutation][] = [
  [
    'service-capacity-strategy',
    'a service that sets launchType',
    (rs) => void (find(rs, T.service).props.launchType = 'FARGATE'),
  ],
  [
    'service-capacity-strategy',
    'a strategy naming a provider the cluster does not associate',
    (rs) => void (find(rs, T.capacityProviders).props.capacityProviders = ['FARGATE']),
  ],
  [
    'service-circuit-breaker',
    'a circuit breaker without rollback',
    (rs) =>
      void (find(rs, T.service).props.deploymentCircuitBreaker = { enable: true, rollback: false }),
  ],
  [
    'service-private-networking',
    'tasks with public IPs',
    (rs) =>
      void ((
        find(rs, T.service).props.networkConfiguration as Record<string, unknown>
      ).assignPublicIp = true),
  ],
  [
    'service-private-networking',
    'tasks placed in a subnet routed to the internet gateway',
    (rs) => {
      const pub = find(rs, T.subnet, 'public-0');
      (find(rs, T.service).props.networkConfiguration as Record<string, unknown>).subnets = [
        pub.id,
      ];
    },
  ],
  [
    'task-hardening',
    'a container running as root',
    (rs) => editContainer(rs, (c) => void (c.user = '0:0')),
  ],
  [
    'task-hardening',
    'a writable root filesystem',
    (rs) => editContainer(rs, (c) => void (c.readonlyRootFilesystem = false)),
  ],
  [
    'task-hardening',
    'a short stopTimeout',
    (rs) => editContainer(rs, (c) => void (c.stopTimeout = 30)),
  ],
  [
    'task-secrets-via-valueFrom',
    'a provider key in plain environment',
    (rs) =>
      editContainer(rs, (c) => {
        (c.environment as unknown[]).push({
          name: 'OPENAI_API_KEY',
          value: 'sk-live-abcdefghijklmnop',
        });
      }),
  ],
  [
    'task-secrets-via-valueFrom',
    'a database URL with a password in plain environment',
    (rs) =>
      editContainer(rs, (c) => {
        (c.environment as unknown[]).push({ name: 'PG', value: 'postgres://u:hunter2@db:5432/x' });
      }),
  ],
  [
    'waf-cloudfront-us-east-1',
    'a CLOUDFRONT web ACL outside us-east-1',
    (rs) => void (find(rs, T.webAcl).region = 'eu-west-1'),
  ],
  [
    'waf-cloudfront-us-east-1',
    'a distribution without a web ACL',
    (rs) => void delete find(rs, T.distribution).props.webAclId,
  ],
  [
    'waf-rule-set',
    'blocking large bodies',
    (rs) => {
      const rules = find(rs, T.webAcl).props.rules as {
        statement: { managedRuleGroupStatement?: { ruleActionOverrides?: unknown[] } };
      }[];
      rules[1].statement.managedRuleGroupStatement!.ruleActionOverrides = [];
    },
  ],
  [
    'cloudfront-api-behaviour',
    'a caching, compressing behaviour',
    (rs) => {
      const behaviour = find(rs, T.distribution).props.defaultCacheBehavior as Record<
        string,
        unknown
      >;
      behaviour.cachePolicyId = '658327ea-f89d-4fab-a63d-7e88639e58f6';
      behaviour.compress = true;
    },
  ],
  [
    'alb-only-from-cloudfront',
    'an internet-facing ALB',
    (rs) => void (find(rs, T.loadBalancer).props.internal = false),
  ],
  [
    'alb-only-from-cloudfront',
    'an ALB security group opened to a CIDR',
    (rs) => {
      const rule = find(rs, T.ingressRule, 'alb-from-cloudfront');
      delete rule.props.prefixListId;
      rule.props.cidrIpv4 = '10.0.0.0/8';
    },
  ],
  [
    'no-public-ingress',
    'a database reachable from 0.0.0.0/0',
    (rs) => {
      const rule = find(rs, T.ingressRule, 'database-from-task');
      delete rule.props.referencedSecurityGroupId;
      rule.props.cidrIpv4 = '0.0.0.0/0';
    },
  ],
  [
    'alarms-have-actions',
    'an alarm without actions',
    (rs) => void (find(rs, T.alarm, 'cpu-high').props.alarmActions = []),
  ],
  [
    'alarms-have-actions',
    'a WAF alarm notifying a topic in another region',
    (rs) => void (find(rs, T.alarm, 'waf-blocked').region = 'eu-west-1'),
  ],
  [
    'log-retention',
    'a log group kept forever',
    (rs) => void delete find(rs, T.logGroup).props.retentionInDays,
  ],
  [
    'ecr-hardening',
    'mutable image tags',
    (rs) => void (find(rs, T.ecrRepository).props.imageTagMutability = 'MUTABLE'),
  ],
  [
    's3-private-encrypted',
    'a bucket without public access block',
    (rs) => void rs.splice(rs.indexOf(find(rs, T.publicAccessBlock, 'uploads')), 1),
  ],
  [
    's3-private-encrypted',
    'a bucket without encryption',
    (rs) => void rs.splice(rs.indexOf(find(rs, T.bucketEncryption, 'access-logs')), 1),
  ],
  [
    'database-private-encrypted',
    'an unencrypted cluster',
    (rs) => void (find(rs, T.dbCluster).props.storageEncrypted = false),
  ],
  [
    'database-private-encrypted',
    'a publicly accessible instance',
    (rs) => void (find(rs, T.dbClusterInstance).props.publiclyAccessible = true),
  ],
  [
    'cache-private-encrypted',
    'a cache without a security group',
    (rs) => void (find(rs, T.serverlessCache).props.securityGroupIds = []),
  ],
  [
    'alb-streaming-settings',
    'a target group checking /health instead of /ready',
    (rs) =>
      void ((find(rs, T.targetGroup).props.healthCheck as Record<string, unknown>).path =
        '/health'),
  ],
];

describe('policy invariants', () => {
  let baseline: ResourceRecord[];

  beforeAll(async () => {
    baseline = (await runMockedStack('dev')).resources.map(({ type, name, id, region, props }) => ({
      type,
      name,
      id,
      region,
      props,
    }));
  });

  it('accepts the compliant dev stack', () => {
    expect(checkAll(baseline)).toEqual([]);
  });

  it.each(cases)('%s rejects %s', (policy, _what, mutate) => {
    const resources = structuredClone(baseline);
    mutate(resources);
    const violations = checkAll(resources);
    expect(violations.map((v) => v.policy)).toContain(policy);
  });

  it('has a failing case for every invariant', () => {
    expect(new Set(cases.map(([policy]) => policy))).toEqual(
      new Set(invariants.map((i) => i.name)),
    );
  });

  it.each([
    ['OPENAI_API_KEY', 'x', true],
    ['LOG_LEVEL', 'info', false],
    ['REDIS_URL', 'rediss://cache:6379', false],
    ['REDIS_URL', 'rediss://default:s3cret@cache:6379', true],
    ['SOMETHING', 'AKIAABCDEFGHIJKLMNOP', true],
    ['CORS_ORIGINS', 'https://app.example.com', false],
  ])('looksSecret(%s=%s) is %s', (name, value, expected) => {
    expect(looksSecret(name, value)).toBe(expected);
  });
});
