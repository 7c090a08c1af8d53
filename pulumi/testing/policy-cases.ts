/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   Mutations edit untyped recorded resource props: the same relaxations eslint.config.mjs gives *.spec.ts. */
import { checkAll, containerDefinitions, invariants, ResourceRecord, T, UNKNOWN } from '../policy';
import { RecordedResource, runMockedStack } from './mock-stack';

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

/** Lets the stack's cluster pause at 0 ACU after 5 idle minutes (as the dev stack does). */
function letDatabasePause(resources: ResourceRecord[]): void {
  find(resources, T.dbCluster).props.serverlessv2ScalingConfiguration = {
    minCapacity: 0,
    maxCapacity: 2,
    secondsUntilAutoPause: 300,
  };
}

/** Each case breaks one thing in an otherwise compliant stack and names the rule that must catch it. */
export const policyCases: [string, string, Mutation][] = [
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
    'tasks with a public IP in a private subnet',
    (rs) => {
      const net = find(rs, T.service).props.networkConfiguration as Record<string, unknown>;
      net.assignPublicIp = true;
      net.subnets = [find(rs, T.subnet, 'private-0').id];
    },
  ],
  [
    'service-private-networking',
    'tasks without a public IP placed in a subnet routed to the internet gateway',
    (rs) => {
      const net = find(rs, T.service).props.networkConfiguration as Record<string, unknown>;
      net.assignPublicIp = false;
      net.subnets = [find(rs, T.subnet, 'public-0').id];
    },
  ],
  [
    'service-private-networking',
    'tasks with a public IP whose security group admits an address range',
    (rs) => {
      const net = find(rs, T.service).props.networkConfiguration as Record<string, unknown>;
      net.assignPublicIp = true;
      net.subnets = [find(rs, T.subnet, 'public-0').id];
      const rule = find(rs, T.ingressRule, 'task-from-alb');
      delete rule.props.referencedSecurityGroupId;
      rule.props.cidrIpv4 = '10.0.0.0/8';
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
      wafRule(
        rs,
        'AWSManagedRulesCommonRuleSet',
      ).statement.managedRuleGroupStatement.ruleActionOverrides = [];
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
    (rs) => {
      // The lean profile has no cache: add one as a misconfigured stack would.
      if (!rs.some((r) => r.type === T.serverlessCache)) {
        rs.push({
          type: T.serverlessCache,
          name: 'added-cache',
          props: { subnetIds: [find(rs, T.subnet, 'private-0').id], securityGroupIds: [] },
        });
      }
      find(rs, T.serverlessCache).props.securityGroupIds = [];
    },
  ],
  [
    'alb-streaming-settings',
    'a target group checking /health instead of /ready',
    (rs) =>
      void ((find(rs, T.targetGroup).props.healthCheck as Record<string, unknown>).path =
        '/health'),
  ],
  [
    'task-hardening',
    'the gateway marked non-essential to pass as a sidecar',
    (rs) => editContainer(rs, (c) => void (c.essential = false)),
  ],
  [
    'task-hardening',
    'a sidecar that maps ports',
    (rs) => {
      const task = find(rs, T.taskDefinition);
      const containers = containerDefinitions(task) as unknown as Record<string, unknown>[];
      containers.push({
        name: 'sidecar',
        essential: false,
        user: '10001',
        readonlyRootFilesystem: true,
        logConfiguration: { logDriver: 'awslogs' },
        portMappings: [{ containerPort: 9000 }],
      });
      task.props.containerDefinitions = JSON.stringify(containers);
    },
  ],
  [
    'task-shared-api-key-secret',
    'a task without API_KEY_SECRET (each task would invent its own)',
    (rs) =>
      editContainer(rs, (c) => {
        c.secrets = (c.secrets as { name: string }[]).filter((x) => x.name !== 'API_KEY_SECRET');
      }),
  ],
  [
    'waf-managed-groups-enforced',
    'a managed rule group left in count mode',
    (rs) =>
      void (wafRule(rs, 'AWSManagedRulesKnownBadInputsRuleSet').overrideAction = { count: {} }),
  ],
  [
    'waf-rule-set',
    'no rate limit on /admin',
    (rs) => {
      const acl = find(rs, T.webAcl);
      acl.props.rules = (acl.props.rules as { name: string }[]).filter(
        (r) => r.name !== 'admin-rate-per-ip',
      );
    },
  ],
  [
    'waf-rule-set',
    'an /admin rate limit looser than the global one',
    (rs) => void (wafRule(rs, 'admin-rate-per-ip').statement.rateBasedStatement.limit = 1_000_000),
  ],
  [
    'waf-rule-set',
    'a prod web ACL that lets /admin through from any address',
    (rs) => {
      const acl = find(rs, T.webAcl);
      acl.props.tags = { ...(acl.props.tags as object), Stack: 'prod' };
      acl.props.rules = (acl.props.rules as { name: string }[]).filter(
        (r) => r.name !== 'admin-allow-list',
      );
    },
  ],
  [
    'alarms-present',
    'TTFT alarmed at p95 instead of p99',
    (rs) => void (find(rs, T.alarm, 'ttft-p99').props.extendedStatistic = 'p95'),
  ],
  [
    'alarms-present',
    'no alarm on rejected connections',
    (rs) => void rs.splice(rs.indexOf(find(rs, T.alarm, 'alb-rejected-connections')), 1),
  ],
  [
    'alarms-present',
    'Spot interruptions not sent anywhere',
    (rs) => void rs.splice(rs.indexOf(find(rs, T.eventTarget, 'spot-interruption')), 1),
  ],
  ['alarms-present', 'no cost budget', (rs) => void rs.splice(rs.indexOf(find(rs, T.budget)), 1)],
  [
    'pausable-database-left-idle',
    'a database that may pause while every task holds a LISTEN session',
    (rs) => {
      letDatabasePause(rs);
      editContainer(rs, (c) => {
        c.environment = (c.environment as { name: string }[]).filter((e) => e.name !== 'JOB_WAKE');
      });
    },
  ],
  [
    'pausable-database-left-idle',
    'a database that may pause while idle job polls come every 30 s',
    (rs) => {
      letDatabasePause(rs);
      editContainer(rs, (c) => {
        c.environment = [
          ...(c.environment as { name: string }[]).filter(
            (e) => !['JOB_IDLE_POLL_MAX_SECONDS', 'JOB_WAKE'].includes(e.name),
          ),
          { name: 'JOB_WAKE', value: 'poll' },
        ];
      });
    },
  ],
  [
    'prod-deletion-protection',
    'a prod database without deletion protection',
    (rs) => {
      const db = find(rs, T.dbCluster);
      db.props.tags = { ...(db.props.tags as object), Stack: 'prod' };
      db.props.deletionProtection = false;
    },
  ],
  [
    'prod-deletion-protection',
    'a prod load balancer without deletion protection',
    (rs) => {
      const lb = find(rs, T.loadBalancer);
      lb.props.tags = { ...(lb.props.tags as object), Stack: 'prod' };
      lb.props.enableDeletionProtection = false;
    },
  ],
  [
    'metrics-not-public',
    'metrics served on the public port (no METRICS_PORT)',
    (rs) =>
      editContainer(rs, (c) => {
        c.environment = (c.environment as { name: string }[]).filter(
          (e) => e.name !== 'METRICS_PORT',
        );
      }),
  ],
  [
    'metrics-not-public',
    'a CloudFront behaviour routing /metrics',
    (rs) => {
      const dist = find(rs, T.distribution);
      dist.props.orderedCacheBehaviors = [
        { ...(dist.props.defaultCacheBehavior as object), pathPattern: '/metrics*' },
      ];
    },
  ],
  [
    'metrics-not-public',
    'a target group on the metrics port',
    (rs) => void (find(rs, T.targetGroup).props.port = 9464),
  ],
  [
    'metrics-not-public',
    'the task security group opened to the metrics port',
    (rs) => {
      const rule = find(rs, T.ingressRule, 'task-from-alb');
      rule.props.fromPort = 8080;
      rule.props.toPort = 9464;
    },
  ],
  [
    'iam-data-plane-scoped',
    'Bedrock invocation allowed on every model',
    (rs) => {
      const policy = find(rs, T.rolePolicy, '-task');
      const doc = JSON.parse(policy.props.policy as string) as { Statement: unknown[] };
      doc.Statement.push({
        Effect: 'Allow',
        Action: 'bedrock:InvokeModel',
        Resource: 'arn:aws:bedrock:*::foundation-model/*',
      });
      policy.props.policy = JSON.stringify(doc);
    },
  ],
  [
    'iam-data-plane-scoped',
    'S3 object access on "*"',
    (rs) => {
      const policy = find(rs, T.rolePolicy, '-task');
      const doc = JSON.parse(policy.props.policy as string) as {
        Statement: { Resource: unknown }[];
      };
      doc.Statement[1].Resource = '*';
      policy.props.policy = JSON.stringify(doc);
    },
  ],
  [
    'timeouts-ordered',
    'a deregistration delay equal to stopTimeout',
    (rs) => void (find(rs, T.targetGroup).props.deregistrationDelay = 120),
  ],
  [
    'timeouts-ordered',
    'a drain longer than the deregistration delay',
    (rs) =>
      editContainer(rs, (c) => {
        (c.environment as { name: string; value: string }[]).find(
          (e) => e.name === 'SHUTDOWN_DRAIN_SECONDS',
        )!.value = '100';
      }),
  ],
  [
    'timeouts-ordered',
    'an ALB idle timeout shorter than the SSE heartbeat',
    (rs) => void (find(rs, T.loadBalancer).props.idleTimeout = 10),
  ],
];

function wafRule(resources: ResourceRecord[], name: string): any {
  const rule = (find(resources, T.webAcl).props.rules as { name: string }[]).find(
    (r) => r.name === name,
  );
  if (!rule) throw new Error(`no WAF rule ${name}`);
  return rule;
}

/**
 * The stack as a real preview sees it: every value the provider computes (ids, ARNs,
 * generated names) and every input built from one (a JSON policy with an ARN inside, a
 * container definition with the image URL) is unknown.
 */
export function previewShaped(resources: RecordedResource[]): ResourceRecord[] {
  const computed = new Set<string>();
  for (const r of resources) {
    if (r.id) computed.add(r.id);
    for (const [key, value] of Object.entries(r.props)) {
      if (!(key in r.inputs) && typeof value === 'string' && value.length >= 8) computed.add(value);
    }
  }
  const shape = (value: unknown): unknown => {
    if (typeof value === 'string')
      return [...computed].some((c) => value.includes(c)) ? UNKNOWN : value;
    if (Array.isArray(value)) return value.map(shape);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
    return value;
  };
  return resources.map((r) => ({
    type: r.type,
    name: r.name,
    region: r.region,
    props: Object.fromEntries(
      Object.entries(r.props).map(([k, v]) => [k, k in r.inputs ? shape(v) : UNKNOWN]),
    ),
  }));
}

/** Mutation tests of every invariant against one stack's compliant resources. */
export function describePolicy(stackName: string): void {
  describe(`policy invariants on ${stackName}`, () => {
    let recorded: RecordedResource[];
    let baseline: ResourceRecord[];

    beforeAll(async () => {
      recorded = (await runMockedStack(stackName)).resources;
      baseline = recorded.map(({ type, name, id, region, props }) => ({
        type,
        name,
        id,
        region,
        props,
      }));
    });

    it('accepts the compliant stack', () => {
      expect(checkAll(baseline)).toEqual([]);
    });

    it('neither throws nor reports anything on the preview-shaped stack (unknown values)', () => {
      const preview = previewShaped(recorded);
      const unknowns = JSON.stringify(preview, (_k, v: unknown) => (v === UNKNOWN ? '?' : v));
      expect(unknowns).toContain('"arn":"?"');
      expect(find(preview, T.taskDefinition).props.containerDefinitions).toBe(UNKNOWN);
      expect(checkAll(preview)).toEqual([]);
    });

    it.each(policyCases)('%s rejects %s', (policy, _what, mutate) => {
      const resources = structuredClone(baseline);
      mutate(resources);
      const violations = checkAll(resources);
      expect(violations.map((v) => v.policy)).toContain(policy);
    });

    it('has a failing case for every invariant', () => {
      expect(new Set(policyCases.map(([policy]) => policy))).toEqual(
        new Set(invariants.map((i) => i.name)),
      );
    });
  });
}
