/**
 * Security and operability invariants of the Switchboard stack, written as plain functions
 * over a list of resources so the same rules run in two places:
 *  - the unit tests, over resources recorded by `pulumi.runtime.setMocks`;
 *  - `pulumi preview --policy-pack pulumi/policy-pack`, over the real preview.
 * A value unknown during preview arrives as {@link UNKNOWN} (the policy pack converts the
 * engine's sentinels, see policy-pack/index.ts): rules never throw on it and never report
 * it as a violation, so the pack stays mandatory during a real preview. A reference that
 * cannot be resolved is not reported either; the mock tests resolve every reference and
 * assert that they do, and a preview-shaped copy of each stack must produce no violation.
 */

/** Stands for a value the engine cannot know yet (preview). */
export const UNKNOWN: unique symbol = Symbol.for('switchboard.policy.unknown');
export function isUnknown(value: unknown): value is typeof UNKNOWN {
  return value === UNKNOWN;
}

export interface ResourceRecord {
  type: string;
  name: string;
  urn?: string;
  /** Physical id when known (mocks always know it). */
  id?: string;
  /** Region of the provider that manages the resource. */
  region?: string;
  props: Record<string, unknown>;
}

export interface Violation {
  policy: string;
  resource: string;
  urn?: string;
  message: string;
}

export interface Invariant {
  name: string;
  description: string;
  check(resources: ResourceRecord[]): Violation[];
}

export const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
export const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
export const REQUIRED_STOP_TIMEOUT = 120;
/** The gateway's default SSE heartbeat; every idle timeout on the path must exceed it. */
export const SSE_HEARTBEAT_SECONDS = 15;

export const T = {
  service: 'aws:ecs/service:Service',
  cluster: 'aws:ecs/cluster:Cluster',
  capacityProviders: 'aws:ecs/clusterCapacityProviders:ClusterCapacityProviders',
  taskDefinition: 'aws:ecs/taskDefinition:TaskDefinition',
  subnet: 'aws:ec2/subnet:Subnet',
  routeTable: 'aws:ec2/routeTable:RouteTable',
  routeTableAssociation: 'aws:ec2/routeTableAssociation:RouteTableAssociation',
  internetGateway: 'aws:ec2/internetGateway:InternetGateway',
  securityGroup: 'aws:ec2/securityGroup:SecurityGroup',
  securityGroupRule: 'aws:ec2/securityGroupRule:SecurityGroupRule',
  ingressRule: 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule',
  webAcl: 'aws:wafv2/webAcl:WebAcl',
  distribution: 'aws:cloudfront/distribution:Distribution',
  vpcOrigin: 'aws:cloudfront/vpcOrigin:VpcOrigin',
  loadBalancer: 'aws:lb/loadBalancer:LoadBalancer',
  listener: 'aws:lb/listener:Listener',
  listenerRule: 'aws:lb/listenerRule:ListenerRule',
  targetGroup: 'aws:lb/targetGroup:TargetGroup',
  alarm: 'aws:cloudwatch/metricAlarm:MetricAlarm',
  eventRule: 'aws:cloudwatch/eventRule:EventRule',
  eventTarget: 'aws:cloudwatch/eventTarget:EventTarget',
  budget: 'aws:budgets/budget:Budget',
  rolePolicy: 'aws:iam/rolePolicy:RolePolicy',
  iamPolicy: 'aws:iam/policy:Policy',
  logGroup: 'aws:cloudwatch/logGroup:LogGroup',
  ecrRepository: 'aws:ecr/repository:Repository',
  ecrLifecycle: 'aws:ecr/lifecyclePolicy:LifecyclePolicy',
  bucket: 'aws:s3/bucket:Bucket',
  publicAccessBlock: 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock',
  bucketEncryption:
    'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
  dbCluster: 'aws:rds/cluster:Cluster',
  dbClusterInstance: 'aws:rds/clusterInstance:ClusterInstance',
  dbInstance: 'aws:rds/instance:Instance',
  dbSubnetGroup: 'aws:rds/subnetGroup:SubnetGroup',
  serverlessCache: 'aws:elasticache/serverlessCache:ServerlessCache',
  replicationGroup: 'aws:elasticache/replicationGroup:ReplicationGroup',
} as const;

// --- small readers over untyped props --------------------------------------------------

type Props = Record<string, unknown>;

function obj(value: unknown): Props | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Props)
    : undefined;
}
function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
/** Whether a value, or any element of it, is unknown (preview). */
function anyUnknown(value: unknown): boolean {
  return isUnknown(value) || (Array.isArray(value) && value.some(isUnknown));
}
function strings(value: unknown): string[] {
  return arr(value).filter((v): v is string => typeof v === 'string');
}
function ofType(resources: ResourceRecord[], type: string): ResourceRecord[] {
  return resources.filter((r) => r.type === type);
}
/** A resource's identifiers that other resources may reference it by. */
function handles(r: ResourceRecord): string[] {
  return [r.id, str(r.props.id), str(r.props.arn), str(r.props.name), str(r.props.bucket)].filter(
    (v): v is string => v !== undefined && v !== '',
  );
}
function byHandle(
  resources: ResourceRecord[],
  type: string,
  ref: unknown,
): ResourceRecord | undefined {
  const key = str(ref);
  if (key === undefined) return undefined;
  return ofType(resources, type).find((r) => handles(r).includes(key));
}
/** Region of an ARN (arn:partition:service:region:account:resource). */
export function arnRegion(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts.length >= 6 && parts[0] === 'arn' ? parts[3] : undefined;
}

function violation(policy: string, r: ResourceRecord, message: string): Violation {
  return { policy, resource: `${r.type}::${r.name}`, urn: r.urn, message };
}

interface ContainerDefinition {
  name?: string;
  /** ECS default true; a sidecar (the trace collector) is not essential */
  essential?: boolean;
  portMappings?: { containerPort?: number }[];
  user?: string;
  readonlyRootFilesystem?: boolean;
  stopTimeout?: number;
  linuxParameters?: { initProcessEnabled?: boolean };
  mountPoints?: { sourceVolume?: string; containerPath?: string; readOnly?: boolean }[];
  healthCheck?: { command?: string[] };
  environment?: { name?: string; value?: string }[];
  secrets?: { name?: string; valueFrom?: string }[];
  logConfiguration?: { logDriver?: string };
}

/** The task's containers; none while the definitions are unknown or unparseable. */
export function containerDefinitions(task: ResourceRecord): ContainerDefinition[] {
  const raw = task.props.containerDefinitions;
  if (typeof raw === 'string') {
    try {
      return arr(JSON.parse(raw)) as ContainerDefinition[];
    } catch {
      return [];
    }
  }
  return arr(raw) as ContainerDefinition[];
}

/**
 * The gateway's containers: every essential one. Sidecars are not essential, may not map
 * ports (task-hardening checks both), and get only the generic hardening.
 */
function gatewayContainers(task: ResourceRecord): ContainerDefinition[] {
  return containerDefinitions(task).filter((c) => c.essential !== false);
}

function envOf(c: ContainerDefinition): Map<string, string> {
  return new Map(
    (c.environment ?? []).map((e) => [e.name ?? '', e.value ?? ''] as [string, string]),
  );
}

// --- network helpers ---------------------------------------------------------------------

/**
 * A subnet is public when it maps public IPs or its route table sends traffic to an
 * internet gateway. Returns undefined when the subnet cannot be resolved.
 */
export function subnetIsPublic(
  resources: ResourceRecord[],
  subnetRef: unknown,
): boolean | undefined {
  const subnet = byHandle(resources, T.subnet, subnetRef);
  if (!subnet) return undefined;
  if (subnet.props.mapPublicIpOnLaunch === true) return true;
  const igwIds = new Set(ofType(resources, T.internetGateway).flatMap(handles));
  const subnetHandles = handles(subnet);
  return ofType(resources, T.routeTableAssociation)
    .filter((a) => subnetHandles.includes(str(a.props.subnetId) ?? ''))
    .map((a) => byHandle(resources, T.routeTable, a.props.routeTableId))
    .some((rt) =>
      arr(rt?.props.routes).some((route) => igwIds.has(str(obj(route)?.gatewayId) ?? '')),
    );
}

function publicSubnetViolations(
  policy: string,
  resources: ResourceRecord[],
  r: ResourceRecord,
  subnets: unknown,
): Violation[] {
  return arr(subnets)
    .filter((s) => subnetIsPublic(resources, s) === true)
    .map((s) => violation(policy, r, `uses public subnet ${String(s)}`));
}

interface IngressRule {
  securityGroup: unknown;
  cidrs: string[];
  prefixLists: string[];
  referencedGroups: string[];
  fromPort?: number;
  toPort?: number;
  source: ResourceRecord;
}

/** Every ingress rule, whichever of the three AWS resource shapes declares it. */
export function ingressRules(resources: ResourceRecord[]): IngressRule[] {
  const rules: IngressRule[] = [];
  for (const sg of ofType(resources, T.securityGroup)) {
    for (const raw of arr(sg.props.ingress)) {
      const rule = obj(raw) ?? {};
      rules.push({
        securityGroup: sg.id ?? sg.props.id,
        cidrs: [...strings(rule.cidrBlocks), ...strings(rule.ipv6CidrBlocks)],
        prefixLists: strings(rule.prefixListIds),
        referencedGroups: strings(rule.securityGroups),
        fromPort: rule.fromPort as number | undefined,
        toPort: rule.toPort as number | undefined,
        source: sg,
      });
    }
  }
  for (const r of ofType(resources, T.securityGroupRule).filter(
    (x) => x.props.type === 'ingress',
  )) {
    rules.push({
      securityGroup: r.props.securityGroupId,
      cidrs: [...strings(r.props.cidrBlocks), ...strings(r.props.ipv6CidrBlocks)],
      prefixLists: strings(r.props.prefixListIds),
      referencedGroups: [str(r.props.sourceSecurityGroupId)].filter(
        (v): v is string => v !== undefined,
      ),
      fromPort: r.props.fromPort as number | undefined,
      toPort: r.props.toPort as number | undefined,
      source: r,
    });
  }
  for (const r of ofType(resources, T.ingressRule)) {
    rules.push({
      securityGroup: r.props.securityGroupId,
      cidrs: [str(r.props.cidrIpv4), str(r.props.cidrIpv6)].filter(
        (v): v is string => v !== undefined,
      ),
      prefixLists: [str(r.props.prefixListId)].filter((v): v is string => v !== undefined),
      referencedGroups: [str(r.props.referencedSecurityGroupId)].filter(
        (v): v is string => v !== undefined,
      ),
      fromPort: r.props.fromPort as number | undefined,
      toPort: r.props.toPort as number | undefined,
      source: r,
    });
  }
  return rules;
}

const ANYWHERE = new Set(['0.0.0.0/0', '::/0']);

// --- invariants -----------------------------------------------------------------------------

const capacityStrategy: Invariant = {
  name: 'service-capacity-strategy',
  description:
    'ECS services use a capacity provider strategy over providers associated with their cluster, never launchType.',
  check(resources) {
    const out: Violation[] = [];
    for (const svc of ofType(resources, T.service)) {
      const strategy = arr(svc.props.capacityProviderStrategies).map((s) => obj(s) ?? {});
      const launchType = svc.props.launchType;
      if (launchType !== undefined && launchType !== null && launchType !== '') {
        out.push(violation(this.name, svc, `sets launchType ${JSON.stringify(launchType)}`));
      }
      if (strategy.length === 0) {
        out.push(violation(this.name, svc, 'has no capacity provider strategy'));
        continue;
      }
      const cluster = byHandle(resources, T.cluster, svc.props.cluster);
      const association = cluster
        ? ofType(resources, T.capacityProviders).find((c) =>
            handles(cluster).includes(str(c.props.clusterName) ?? ''),
          )
        : undefined;
      if (cluster && !association) {
        out.push(violation(this.name, svc, 'cluster has no capacity providers associated'));
        continue;
      }
      const associated = new Set(strings(association?.props.capacityProviders));
      for (const item of strategy) {
        const provider = str(item.capacityProvider) ?? '';
        if (association && !associated.has(provider)) {
          out.push(
            violation(this.name, svc, `strategy uses ${provider}, not associated with the cluster`),
          );
        }
      }
      if (association && !(associated.has('FARGATE') && associated.has('FARGATE_SPOT'))) {
        out.push(violation(this.name, svc, 'cluster must associate both FARGATE and FARGATE_SPOT'));
      }
    }
    return out;
  },
};

const circuitBreaker: Invariant = {
  name: 'service-circuit-breaker',
  description: 'ECS deployments roll back automatically when new tasks fail.',
  check(resources) {
    return ofType(resources, T.service)
      .filter((svc) => {
        const cb = obj(svc.props.deploymentCircuitBreaker);
        return !(cb?.enable === true && cb.rollback === true);
      })
      .map((svc) =>
        violation(this.name, svc, 'deployment circuit breaker with rollback is not enabled'),
      );
  },
};

const privateTasks: Invariant = {
  name: 'service-private-networking',
  description:
    'Tasks run in private subnets without public IPs, or (lean layout) in public subnets with a public IP behind security groups that admit only other security groups (the ALB), never addresses.',
  check(resources) {
    const out: Violation[] = [];
    const rules = ingressRules(resources);
    for (const svc of ofType(resources, T.service)) {
      const net = obj(svc.props.networkConfiguration);
      if (isUnknown(svc.props.networkConfiguration)) continue;
      if (!net) {
        out.push(violation(this.name, svc, 'has no awsvpc network configuration'));
        continue;
      }
      const publicIp = net.assignPublicIp;
      if (publicIp !== true && publicIp !== false) {
        if (!isUnknown(publicIp))
          out.push(violation(this.name, svc, 'assignPublicIp is not explicit'));
        continue;
      }
      if (!publicIp) {
        out.push(...publicSubnetViolations(this.name, resources, svc, net.subnets));
        continue;
      }
      // A public IP only in a public subnet (elsewhere it cannot egress), and then the
      // task's groups must admit nothing but other security groups.
      for (const subnet of arr(net.subnets)) {
        if (subnetIsPublic(resources, subnet) === false)
          out.push(
            violation(this.name, svc, `has a public IP in private subnet ${String(subnet)}`),
          );
      }
      for (const group of strings(net.securityGroups)) {
        for (const rule of rules.filter((r) => r.securityGroup === group)) {
          if (rule.cidrs.length > 0 || rule.prefixLists.length > 0) {
            out.push(
              violation(
                this.name,
                svc,
                `has a public IP and security group ${group} admits addresses (${[...rule.cidrs, ...rule.prefixLists].join(', ')})`,
              ),
            );
          }
        }
      }
    }
    return out;
  },
};

function isRootUser(user: string | undefined): boolean {
  if (user === undefined || user.trim() === '') return true;
  const [uid] = user.split(':');
  return uid === 'root' || uid === '0';
}

const taskHardening: Invariant = {
  name: 'task-hardening',
  description: `Containers run as non-root with a read-only root filesystem, a writable /tmp volume, an init process, stopTimeout ${REQUIRED_STOP_TIMEOUT}, a /health check and awslogs.`,
  check(resources) {
    const out: Violation[] = [];
    for (const task of ofType(resources, T.taskDefinition)) {
      const volumes = new Set(arr(task.props.volumes).map((v) => str(obj(v)?.name)));
      for (const c of containerDefinitions(task)) {
        const where = `container ${c.name ?? '?'}`;
        if (isRootUser(c.user)) out.push(violation(this.name, task, `${where} runs as root`));
        if (c.readonlyRootFilesystem !== true)
          out.push(violation(this.name, task, `${where} has a writable root filesystem`));
        if (c.logConfiguration?.logDriver !== 'awslogs')
          out.push(violation(this.name, task, `${where} does not log to CloudWatch`));
        if (c.essential === false && (c.portMappings ?? []).length > 0)
          out.push(violation(this.name, task, `${where} is a sidecar that maps ports`));
      }
      // (definitions unknown during preview parse to no containers: nothing to report)
      if (containerDefinitions(task).length > 0 && gatewayContainers(task).length === 0)
        out.push(violation(this.name, task, 'has no essential (gateway) container'));
      for (const c of gatewayContainers(task)) {
        const where = `container ${c.name ?? '?'}`;
        if (c.stopTimeout !== REQUIRED_STOP_TIMEOUT) {
          out.push(
            violation(
              this.name,
              task,
              `${where} stopTimeout is ${String(c.stopTimeout)}, expected ${REQUIRED_STOP_TIMEOUT}`,
            ),
          );
        }
        if (c.linuxParameters?.initProcessEnabled !== true)
          out.push(violation(this.name, task, `${where} has no init process`));
        const tmp = (c.mountPoints ?? []).find((m) => m.containerPath === '/tmp');
        if (!tmp || tmp.readOnly === true || !volumes.has(tmp.sourceVolume)) {
          out.push(violation(this.name, task, `${where} has no writable /tmp volume`));
        }
        if (!(c.healthCheck?.command ?? []).some((part) => part.includes('/health'))) {
          out.push(violation(this.name, task, `${where} health check does not probe /health`));
        }
      }
    }
    return out;
  },
};

const SECRET_NAME = /(KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|DATABASE_URL)/i;
const SECRET_VALUE = [
  /:\/\/[^/@\s:]+:[^/@\s]+@/, // credentials inside a URL
  /^sk-[A-Za-z0-9_-]{10,}/, // OpenAI-style key
  /^(AKIA|ASIA)[A-Z0-9]{16}$/, // AWS access key id
  /^AIza[0-9A-Za-z_-]{20,}/, // Google API key
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];
const SECRET_REFERENCE = /^arn:aws[a-z-]*:(secretsmanager|ssm):/;

/** Whether a plain environment entry looks like it carries a secret. */
export function looksSecret(name: string, value: string): boolean {
  return SECRET_NAME.test(name) || SECRET_VALUE.some((re) => re.test(value));
}

const taskSecrets: Invariant = {
  name: 'task-secrets-via-valueFrom',
  description:
    'Secrets reach containers only as Secrets Manager/SSM references, never as plain environment values.',
  check(resources) {
    const out: Violation[] = [];
    for (const task of ofType(resources, T.taskDefinition)) {
      for (const c of containerDefinitions(task)) {
        for (const env of c.environment ?? []) {
          if (looksSecret(env.name ?? '', env.value ?? '')) {
            out.push(
              violation(
                this.name,
                task,
                `container ${c.name ?? '?'} has secret-looking plain variable ${env.name ?? '?'}`,
              ),
            );
          }
        }
        for (const secret of c.secrets ?? []) {
          if (!SECRET_REFERENCE.test(secret.valueFrom ?? '')) {
            out.push(
              violation(
                this.name,
                task,
                `secret ${secret.name ?? '?'} is not a Secrets Manager/SSM ARN`,
              ),
            );
          }
        }
      }
    }
    return out;
  },
};

const wafOnCloudFront: Invariant = {
  name: 'waf-cloudfront-us-east-1',
  description:
    'Every distribution has a CLOUDFRONT-scope WAFv2 web ACL, created in us-east-1 and attached by ARN.',
  check(resources) {
    const out: Violation[] = [];
    const acls = ofType(resources, T.webAcl);
    for (const acl of acls) {
      if (acl.props.scope !== 'CLOUDFRONT') continue;
      if (acl.region !== undefined && acl.region !== 'us-east-1') {
        out.push(
          violation(
            this.name,
            acl,
            `CLOUDFRONT web ACL is managed in ${acl.region}, must be us-east-1`,
          ),
        );
      }
    }
    for (const dist of ofType(resources, T.distribution)) {
      if (isUnknown(dist.props.webAclId)) continue;
      const ref = str(dist.props.webAclId);
      if (!ref) {
        out.push(violation(this.name, dist, 'has no web ACL'));
        continue;
      }
      if (!ref.startsWith('arn:') || !ref.includes(':wafv2:')) {
        out.push(violation(this.name, dist, 'webAclId is not a WAFv2 ARN'));
        continue;
      }
      const acl = acls.find((a) => str(a.props.arn) === ref);
      if (acl && acl.props.scope !== 'CLOUDFRONT')
        out.push(violation(this.name, dist, 'web ACL scope is not CLOUDFRONT'));
    }
    return out;
  },
};

interface WafStatement {
  managedRuleGroupStatement?: {
    name?: string;
    ruleActionOverrides?: { name?: string; actionToUse?: Props }[];
  };
  rateBasedStatement?: {
    limit?: number;
    aggregateKeyType?: string;
    scopeDownStatement?: WafStatement;
  };
  byteMatchStatement?: {
    searchString?: string;
    positionalConstraint?: string;
    fieldToMatch?: Props;
  };
  andStatement?: { statements?: WafStatement[] };
  notStatement?: { statement?: WafStatement };
  ipSetReferenceStatement?: { arn?: string };
}

interface WafRule {
  name?: string;
  action?: Props;
  overrideAction?: Props;
  statement?: WafStatement;
}

/** Whether a statement matches the request path prefix /admin. */
function matchesAdminPath(statement: WafStatement | undefined): boolean {
  const m = statement?.byteMatchStatement;
  return (
    m?.searchString === '/admin' &&
    m.positionalConstraint === 'STARTS_WITH' &&
    obj(m.fieldToMatch)?.uriPath !== undefined
  );
}

/** A blocking rule: path is /admin AND the source is NOT in an IP set. */
function isAdminAllowList(rule: WafRule): boolean {
  const parts = rule.statement?.andStatement?.statements ?? [];
  return (
    obj(rule.action)?.block !== undefined &&
    parts.some(matchesAdminPath) &&
    parts.some((p) => p.notStatement?.statement?.ipSetReferenceStatement !== undefined)
  );
}

const wafRules: Invariant = {
  name: 'waf-rule-set',
  description:
    'The web ACL runs AWS common, known-bad-inputs and IP-reputation groups, counts (not blocks) large bodies, and rate-limits per IP.',
  check(resources) {
    const out: Violation[] = [];
    for (const acl of ofType(resources, T.webAcl)) {
      const rules = arr(acl.props.rules) as WafRule[];
      const groups = new Map(
        rules.flatMap((r) =>
          r.statement?.managedRuleGroupStatement
            ? [[r.statement.managedRuleGroupStatement.name, r] as const]
            : [],
        ),
      );
      for (const required of [
        'AWSManagedRulesCommonRuleSet',
        'AWSManagedRulesKnownBadInputsRuleSet',
        'AWSManagedRulesAmazonIpReputationList',
      ]) {
        if (!groups.has(required))
          out.push(violation(this.name, acl, `missing managed rule group ${required}`));
      }
      const common = groups.get('AWSManagedRulesCommonRuleSet')?.statement
        ?.managedRuleGroupStatement;
      const bodyOverride = (common?.ruleActionOverrides ?? []).find(
        (o) => o.name === 'SizeRestrictions_BODY',
      );
      if (common && !obj(bodyOverride?.actionToUse)?.count) {
        out.push(
          violation(
            this.name,
            acl,
            'SizeRestrictions_BODY must be overridden to count (long prompts are legitimate)',
          ),
        );
      }
      const rate = rules.find(
        (r) =>
          r.statement?.rateBasedStatement?.aggregateKeyType === 'IP' &&
          r.statement.rateBasedStatement.scopeDownStatement === undefined,
      );
      if (!rate || !obj(rate.action)?.block)
        out.push(violation(this.name, acl, 'missing a blocking per-IP rate-based rule'));
      const adminRate = rules.find((r) =>
        matchesAdminPath(r.statement?.rateBasedStatement?.scopeDownStatement),
      );
      const adminLimit = adminRate?.statement?.rateBasedStatement?.limit;
      const globalLimit = rate?.statement?.rateBasedStatement?.limit;
      if (!adminRate || !obj(adminRate.action)?.block) {
        out.push(violation(this.name, acl, 'missing a blocking per-IP rate limit on /admin'));
      } else if (
        typeof adminLimit === 'number' &&
        typeof globalLimit === 'number' &&
        adminLimit >= globalLimit
      ) {
        out.push(
          violation(
            this.name,
            acl,
            `/admin rate limit ${adminLimit} is not tighter than ${globalLimit}`,
          ),
        );
      }
      if (tagOf(acl, 'Stack') === 'prod' && !rules.some(isAdminAllowList)) {
        out.push(violation(this.name, acl, 'prod must block /admin outside an IP allow-list'));
      }
    }
    return out;
  },
};

function tagOf(r: ResourceRecord, key: string): string | undefined {
  return str(obj(r.props.tags)?.[key]) ?? str(obj(r.props.tagsAll)?.[key]);
}

const wafManagedGroupsEnforced: Invariant = {
  name: 'waf-managed-groups-enforced',
  description:
    'Managed rule groups enforce their own actions (override none), never count mode; only named rules may be overridden to count.',
  check(resources) {
    const out: Violation[] = [];
    for (const acl of ofType(resources, T.webAcl)) {
      for (const rule of arr(acl.props.rules) as WafRule[]) {
        if (!rule.statement?.managedRuleGroupStatement) continue;
        if (obj(rule.overrideAction)?.none === undefined) {
          out.push(
            violation(this.name, acl, `managed group ${String(rule.name)} runs in count mode`),
          );
        }
      }
    }
    return out;
  },
};

const cloudFrontApi: Invariant = {
  name: 'cloudfront-api-behaviour',
  description:
    'API behaviours use CachingDisabled and AllViewerExceptHostHeader, never compress (SSE), and require HTTPS.',
  check(resources) {
    const out: Violation[] = [];
    for (const dist of ofType(resources, T.distribution)) {
      const behaviours = [
        obj(dist.props.defaultCacheBehavior),
        ...arr(dist.props.orderedCacheBehaviors).map(obj),
      ];
      behaviours.forEach((b, i) => {
        const where = i === 0 ? 'default behaviour' : `behaviour ${String(b?.pathPattern)}`;
        if (!b) return;
        if (b.cachePolicyId !== CACHING_DISABLED)
          out.push(violation(this.name, dist, `${where} is not CachingDisabled`));
        if (b.originRequestPolicyId !== ALL_VIEWER_EXCEPT_HOST_HEADER) {
          out.push(violation(this.name, dist, `${where} does not use AllViewerExceptHostHeader`));
        }
        if (b.compress !== false)
          out.push(violation(this.name, dist, `${where} compresses responses (buffers SSE)`));
        if (b.viewerProtocolPolicy !== 'https-only')
          out.push(violation(this.name, dist, `${where} allows plain HTTP`));
      });
    }
    return out;
  },
};

const albOnlyFromCloudFront: Invariant = {
  name: 'alb-only-from-cloudfront',
  description:
    'The ALB is internal and reached through a CloudFront VPC origin, and its security groups admit only prefix lists or other groups, never CIDRs.',
  check(resources) {
    const out: Violation[] = [];
    const rules = ingressRules(resources);
    const origins = ofType(resources, T.vpcOrigin);
    const distributionOrigins = ofType(resources, T.distribution).flatMap((d) =>
      arr(d.props.origins).map((o) => str(obj(obj(o)?.vpcOriginConfig)?.vpcOriginId)),
    );
    for (const alb of ofType(resources, T.loadBalancer)) {
      if (alb.props.internal !== true) {
        out.push(
          violation(
            this.name,
            alb,
            'is internet-facing; it must be internal behind a CloudFront VPC origin',
          ),
        );
        continue;
      }
      const albArn = str(alb.props.arn);
      const origin =
        albArn === undefined
          ? undefined
          : origins.find((o) => str(obj(o.props.vpcOriginEndpointConfig)?.arn) === albArn);
      if (albArn !== undefined && !origin) {
        out.push(violation(this.name, alb, 'is not the target of a CloudFront VPC origin'));
      } else if (
        origin &&
        !distributionOrigins.includes(undefined) &&
        !handles(origin).some((h) => distributionOrigins.includes(h))
      ) {
        out.push(violation(this.name, alb, 'its VPC origin is not used by any distribution'));
      }
      for (const sg of strings(alb.props.securityGroups)) {
        for (const rule of rules.filter((r) => r.securityGroup === sg)) {
          if (rule.cidrs.length > 0) {
            out.push(
              violation(
                this.name,
                alb,
                `security group ${sg} admits CIDRs ${rule.cidrs.join(', ')}`,
              ),
            );
          }
        }
      }
    }
    return out;
  },
};

const noPublicIngress: Invariant = {
  name: 'no-public-ingress',
  description:
    'No security group admits 0.0.0.0/0 or ::/0, except port 443 on an internet-facing ALB.',
  check(resources) {
    const publicAlbGroups = new Set(
      ofType(resources, T.loadBalancer)
        .filter((lb) => lb.props.internal !== true)
        .flatMap((lb) => strings(lb.props.securityGroups)),
    );
    return ingressRules(resources)
      .filter((rule) => rule.cidrs.some((c) => ANYWHERE.has(c)))
      .filter(
        (rule) =>
          !(
            publicAlbGroups.has(str(rule.securityGroup) ?? '') &&
            rule.fromPort === 443 &&
            rule.toPort === 443
          ),
      )
      .map((rule) =>
        violation(
          this.name,
          rule.source,
          `admits the internet on ports ${String(rule.fromPort)}-${String(rule.toPort)}`,
        ),
      );
  },
};

const alarmActions: Invariant = {
  name: 'alarms-have-actions',
  description:
    'Every alarm notifies somewhere, in its own region (CloudWatch cannot notify cross-region topics).',
  check(resources) {
    const out: Violation[] = [];
    for (const alarm of ofType(resources, T.alarm)) {
      if (anyUnknown(alarm.props.alarmActions)) continue;
      const actions = strings(alarm.props.alarmActions);
      if (alarm.props.actionsEnabled === false || actions.length === 0) {
        out.push(violation(this.name, alarm, 'has no enabled alarm action'));
        continue;
      }
      for (const action of actions) {
        const region = arnRegion(action);
        if (alarm.region !== undefined && region !== undefined && region !== alarm.region) {
          out.push(
            violation(this.name, alarm, `alarm in ${alarm.region} notifies ${action} in ${region}`),
          );
        }
      }
    }
    return out;
  },
};

const logRetention: Invariant = {
  name: 'log-retention',
  description: 'Every log group has a retention period.',
  check(resources) {
    return ofType(resources, T.logGroup)
      .filter(
        (lg) => !(typeof lg.props.retentionInDays === 'number' && lg.props.retentionInDays > 0),
      )
      .map((lg) => violation(this.name, lg, 'has no retention (logs kept and billed forever)'));
  },
};

const ecrHardening: Invariant = {
  name: 'ecr-hardening',
  description: 'ECR repositories scan on push, use immutable tags and have a lifecycle policy.',
  check(resources) {
    const out: Violation[] = [];
    const lifecycles = ofType(resources, T.ecrLifecycle).map((p) => str(p.props.repository));
    const lifecycleUnknown = ofType(resources, T.ecrLifecycle).some((p) =>
      isUnknown(p.props.repository),
    );
    for (const repo of ofType(resources, T.ecrRepository)) {
      if (obj(repo.props.imageScanningConfiguration)?.scanOnPush !== true)
        out.push(violation(this.name, repo, 'does not scan on push'));
      if (repo.props.imageTagMutability !== 'IMMUTABLE')
        out.push(violation(this.name, repo, 'tags are mutable'));
      if (!lifecycleUnknown && !handles(repo).some((h) => lifecycles.includes(h)))
        out.push(violation(this.name, repo, 'has no lifecycle policy'));
    }
    return out;
  },
};

const s3Private: Invariant = {
  name: 's3-private-encrypted',
  description: 'Every bucket blocks all public access and has default encryption.',
  check(resources) {
    const out: Violation[] = [];
    const blocks = ofType(resources, T.publicAccessBlock);
    const encryption = ofType(resources, T.bucketEncryption);
    // During preview a new bucket's name is unknown and so is every reference to it.
    const unresolved = [...blocks, ...encryption].some((r) => isUnknown(r.props.bucket));
    for (const bucket of ofType(resources, T.bucket)) {
      const ids = handles(bucket);
      if (ids.length === 0 || unresolved) continue;
      const block = blocks.find((b) => ids.includes(str(b.props.bucket) ?? ''));
      const allBlocked =
        block &&
        ['blockPublicAcls', 'blockPublicPolicy', 'ignorePublicAcls', 'restrictPublicBuckets'].every(
          (k) => block.props[k] === true,
        );
      if (!allBlocked) out.push(violation(this.name, bucket, 'public access is not fully blocked'));
      const enc = encryption.find((e) => ids.includes(str(e.props.bucket) ?? ''));
      const algorithm = str(
        obj(obj(arr(enc?.props.rules)[0])?.applyServerSideEncryptionByDefault)?.sseAlgorithm,
      );
      if (!algorithm) out.push(violation(this.name, bucket, 'has no default encryption'));
    }
    return out;
  },
};

const databasePrivate: Invariant = {
  name: 'database-private-encrypted',
  description:
    'Databases are encrypted at rest, not publicly accessible and placed in private subnets.',
  check(resources) {
    const out: Violation[] = [];
    for (const cluster of ofType(resources, T.dbCluster)) {
      if (cluster.props.storageEncrypted !== true)
        out.push(violation(this.name, cluster, 'storage is not encrypted'));
      const group = byHandle(resources, T.dbSubnetGroup, cluster.props.dbSubnetGroupName);
      if (group)
        out.push(...publicSubnetViolations(this.name, resources, cluster, group.props.subnetIds));
    }
    for (const instance of [
      ...ofType(resources, T.dbClusterInstance),
      ...ofType(resources, T.dbInstance),
    ]) {
      if (instance.props.publiclyAccessible !== false)
        out.push(violation(this.name, instance, 'is not explicitly private'));
      if (instance.type === T.dbInstance && instance.props.storageEncrypted !== true) {
        out.push(violation(this.name, instance, 'storage is not encrypted'));
      }
    }
    return out;
  },
};

const cachePrivate: Invariant = {
  name: 'cache-private-encrypted',
  description:
    'Caches use TLS and encryption at rest and live in private subnets behind a security group.',
  check(resources) {
    const out: Violation[] = [];
    // ElastiCache Serverless always encrypts in transit and at rest; placement is what can go wrong.
    for (const cache of ofType(resources, T.serverlessCache)) {
      if (anyUnknown(cache.props.securityGroupIds) || anyUnknown(cache.props.subnetIds)) continue;
      if (strings(cache.props.securityGroupIds).length === 0)
        out.push(violation(this.name, cache, 'has no security group'));
      if (arr(cache.props.subnetIds).length === 0)
        out.push(violation(this.name, cache, 'has no explicit private subnets'));
      out.push(...publicSubnetViolations(this.name, resources, cache, cache.props.subnetIds));
    }
    for (const group of ofType(resources, T.replicationGroup)) {
      if (group.props.transitEncryptionEnabled !== true)
        out.push(violation(this.name, group, 'has no TLS'));
      if (group.props.atRestEncryptionEnabled !== true)
        out.push(violation(this.name, group, 'is not encrypted at rest'));
    }
    return out;
  },
};

const albStreaming: Invariant = {
  name: 'alb-streaming-settings',
  description:
    'ALBs drop invalid headers and log access; target groups check /ready and use least-outstanding-requests routing.',
  check(resources) {
    const out: Violation[] = [];
    for (const alb of ofType(resources, T.loadBalancer)) {
      if (alb.props.dropInvalidHeaderFields !== true)
        out.push(violation(this.name, alb, 'keeps invalid header fields'));
      if (obj(alb.props.accessLogs)?.enabled !== true)
        out.push(violation(this.name, alb, 'has no access logs'));
    }
    for (const tg of ofType(resources, T.targetGroup)) {
      if (obj(tg.props.healthCheck)?.path !== '/ready')
        out.push(violation(this.name, tg, 'health check is not /ready'));
      if (tg.props.loadBalancingAlgorithmType !== 'least_outstanding_requests') {
        out.push(violation(this.name, tg, 'does not route by least outstanding requests'));
      }
    }
    return out;
  },
};

const sharedApiKeySecret: Invariant = {
  name: 'task-shared-api-key-secret',
  description:
    'Every container gets API_KEY_SECRET from Secrets Manager: a per-task secret would make an API key valid only on the task that created it.',
  check(resources) {
    const out: Violation[] = [];
    for (const task of ofType(resources, T.taskDefinition)) {
      for (const c of gatewayContainers(task)) {
        const ref = (c.secrets ?? []).find((x) => x.name === 'API_KEY_SECRET');
        if (!ref || !SECRET_REFERENCE.test(ref.valueFrom ?? ''))
          out.push(
            violation(this.name, task, `container ${c.name ?? '?'} has no API_KEY_SECRET secret`),
          );
      }
    }
    return out;
  },
};

/** The gateway's defaults when the variables are unset (libs/config). */
const DEFAULT_POOL_IDLE_SECONDS = 30;
const DEFAULT_JOB_IDLE_POLL_SECONDS = 30;

const pausableDatabaseIdle: Invariant = {
  name: 'pausable-database-left-idle',
  description:
    'When the database may pause at 0 ACU, the gateway lets it: no LISTEN session (JOB_WAKE=poll), idle pool connections closed and job polls spaced further apart than the auto-pause delay.',
  check(resources) {
    const out: Violation[] = [];
    const pauses = ofType(resources, T.dbCluster)
      .map((c) => obj(c.props.serverlessv2ScalingConfiguration))
      .filter((s) => s?.minCapacity === 0);
    if (pauses.length === 0) return out;
    const delays = pauses.map((s) => s?.secondsUntilAutoPause);
    if (delays.some(isUnknown)) return out;
    const pauseAfter = Math.min(...delays.map((d) => (typeof d === 'number' ? d : 300)));
    for (const task of ofType(resources, T.taskDefinition)) {
      for (const c of gatewayContainers(task)) {
        const env = envOf(c);
        const seconds = (name: string, fallback: number) => Number(env.get(name) ?? fallback);
        if (env.get('JOB_WAKE') !== 'poll')
          out.push(
            violation(
              this.name,
              task,
              `container ${c.name ?? '?'} keeps a LISTEN session (JOB_WAKE is not poll)`,
            ),
          );
        if (!(seconds('DATABASE_POOL_IDLE_SECONDS', DEFAULT_POOL_IDLE_SECONDS) < pauseAfter))
          out.push(
            violation(
              this.name,
              task,
              `idle pool connections outlive the ${pauseAfter} s auto-pause delay`,
            ),
          );
        if (!(seconds('JOB_IDLE_POLL_MAX_SECONDS', DEFAULT_JOB_IDLE_POLL_SECONDS) > pauseAfter))
          out.push(
            violation(
              this.name,
              task,
              `idle job polls come sooner than the ${pauseAfter} s auto-pause delay`,
            ),
          );
      }
    }
    return out;
  },
};

interface RequiredAlarm {
  what: string;
  namespace: string;
  metricName: string;
  extendedStatistic?: string;
  /** Only required when a resource of this type exists. */
  when?: string;
}

/** The signals the ECS operations guide asks alarms for. */
export const REQUIRED_ALARMS: RequiredAlarm[] = [
  { what: 'ALB 5XX', namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_ELB_5XX_Count' },
  { what: 'target 5XX', namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_Target_5XX_Count' },
  { what: 'ALB 4XX', namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_ELB_4XX_Count' },
  {
    what: 'rejected connections',
    namespace: 'AWS/ApplicationELB',
    metricName: 'RejectedConnectionCount',
  },
  { what: 'no healthy task', namespace: 'AWS/ApplicationELB', metricName: 'HealthyHostCount' },
  {
    what: 'TTFT p99',
    namespace: 'Switchboard',
    metricName: 'TimeToFirstTokenMs',
    extendedStatistic: 'p99',
  },
  { what: 'dependencies down', namespace: 'Switchboard', metricName: 'DependenciesDown' },
  {
    what: 'Aurora ACU at max',
    namespace: 'AWS/RDS',
    metricName: 'ServerlessDatabaseCapacity',
    when: T.dbCluster,
  },
  {
    what: 'Valkey throttling',
    namespace: 'AWS/ElastiCache',
    metricName: 'ThrottledCmds',
    when: T.serverlessCache,
  },
  {
    what: 'Valkey storage limit',
    namespace: 'AWS/ElastiCache',
    metricName: 'BytesUsedForCache',
    when: T.serverlessCache,
  },
  {
    what: 'Valkey ECPU limit',
    namespace: 'AWS/ElastiCache',
    metricName: 'ElastiCacheProcessingUnits',
    when: T.serverlessCache,
  },
];

function eventPattern(rule: ResourceRecord): Props | undefined {
  const raw = rule.props.eventPattern;
  if (typeof raw !== 'string') return undefined;
  try {
    return obj(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

const alarmsPresent: Invariant = {
  name: 'alarms-present',
  description:
    'Alarms exist for every required signal; ECS deployment failures and Spot interruptions reach an SNS topic through EventBridge; a cost budget exists.',
  check(resources) {
    const out: Violation[] = [];
    const services = ofType(resources, T.service);
    if (services.length === 0) return out;
    const anchor = services[0];
    const alarms = ofType(resources, T.alarm);
    for (const required of REQUIRED_ALARMS) {
      if (required.when && ofType(resources, required.when).length === 0) continue;
      const found = alarms.some(
        (a) =>
          a.props.namespace === required.namespace &&
          a.props.metricName === required.metricName &&
          (required.extendedStatistic === undefined ||
            a.props.extendedStatistic === required.extendedStatistic),
      );
      if (!found) out.push(violation(this.name, anchor, `no alarm on ${required.what}`));
    }
    const targets = ofType(resources, T.eventTarget);
    const routedToSns = (rule: ResourceRecord) =>
      targets.some(
        (t) =>
          handles(rule).includes(str(t.props.rule) ?? '') &&
          (isUnknown(t.props.arn) || (str(t.props.arn) ?? '').includes(':sns:')),
      );
    const rules = ofType(resources, T.eventRule);
    const matching = (detailType: string, field: string, value: string) =>
      rules.some((r) => {
        const pattern = eventPattern(r);
        if (isUnknown(r.props.eventPattern)) return true;
        return (
          strings(pattern?.['detail-type']).includes(detailType) &&
          strings(obj(pattern?.detail)?.[field]).includes(value) &&
          routedToSns(r)
        );
      });
    if (!matching('ECS Deployment State Change', 'eventName', 'SERVICE_DEPLOYMENT_FAILED'))
      out.push(violation(this.name, anchor, 'deployment failures reach no SNS topic'));
    if (!matching('ECS Task State Change', 'stopCode', 'SpotInterruption'))
      out.push(violation(this.name, anchor, 'Spot interruptions reach no SNS topic'));
    if (ofType(resources, T.budget).length === 0)
      out.push(violation(this.name, anchor, 'no cost budget'));
    return out;
  },
};

const prodDeletionProtection: Invariant = {
  name: 'prod-deletion-protection',
  description:
    'In a stack tagged Stack=prod, databases and load balancers are deletion-protected and databases keep a final snapshot.',
  check(resources) {
    const out: Violation[] = [];
    const prod = (r: ResourceRecord) => tagOf(r, 'Stack') === 'prod';
    for (const db of ofType(resources, T.dbCluster).filter(prod)) {
      if (db.props.deletionProtection !== true)
        out.push(violation(this.name, db, 'has no deletion protection'));
      if (db.props.skipFinalSnapshot === true)
        out.push(violation(this.name, db, 'skips the final snapshot'));
    }
    for (const lb of ofType(resources, T.loadBalancer).filter(prod)) {
      if (lb.props.enableDeletionProtection !== true)
        out.push(violation(this.name, lb, 'has no deletion protection'));
    }
    return out;
  },
};

/** Glob-ish path pattern (CloudFront, ALB) that could route /metrics. */
function routesMetrics(pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test('/metrics') && pattern !== '*' && pattern !== '/*';
}

const metricsNotPublic: Invariant = {
  name: 'metrics-not-public',
  description:
    'Prometheus metrics are served on METRICS_PORT, which no port mapping, target group, health check, listener rule, CloudFront behaviour or task security group rule reaches.',
  check(resources) {
    const out: Violation[] = [];
    const metricsPorts = new Set<number>();
    for (const task of ofType(resources, T.taskDefinition)) {
      for (const c of gatewayContainers(task)) {
        const env = envOf(c);
        const metrics = Number(env.get('METRICS_PORT'));
        const port = Number(env.get('PORT'));
        if (!env.has('METRICS_PORT') || !Number.isInteger(metrics) || metrics === port) {
          out.push(
            violation(
              this.name,
              task,
              `container ${c.name ?? '?'} serves metrics on its public port (METRICS_PORT unset or equal to PORT)`,
            ),
          );
          continue;
        }
        metricsPorts.add(metrics);
        if ((c.portMappings ?? []).some((m) => m.containerPort === metrics))
          out.push(violation(this.name, task, `container ${c.name ?? '?'} maps the metrics port`));
      }
    }
    for (const tg of ofType(resources, T.targetGroup)) {
      const hc = obj(tg.props.healthCheck);
      if (typeof tg.props.port === 'number' && metricsPorts.has(tg.props.port))
        out.push(violation(this.name, tg, 'targets the metrics port'));
      if (hc && metricsPorts.has(Number(hc.port)))
        out.push(violation(this.name, tg, 'health-checks the metrics port'));
      if (hc && str(hc.path)?.toLowerCase().startsWith('/metrics'))
        out.push(violation(this.name, tg, 'health check path is /metrics'));
    }
    for (const rule of ofType(resources, T.listenerRule)) {
      for (const cond of arr(rule.props.conditions)) {
        const values = strings(obj(obj(cond)?.pathPattern)?.values);
        if (values.some(routesMetrics))
          out.push(violation(this.name, rule, 'routes /metrics to a target group'));
      }
    }
    for (const dist of ofType(resources, T.distribution)) {
      for (const b of arr(dist.props.orderedCacheBehaviors)) {
        const pattern = str(obj(b)?.pathPattern);
        if (pattern && routesMetrics(pattern))
          out.push(violation(this.name, dist, `behaviour ${pattern} routes /metrics`));
      }
    }
    for (const rule of ingressRules(resources)) {
      const from = rule.fromPort;
      const to = rule.toPort;
      if (typeof from !== 'number' || typeof to !== 'number') continue;
      for (const port of metricsPorts) {
        if (from <= port && port <= to)
          out.push(violation(this.name, rule.source, `admits the metrics port ${port}`));
      }
    }
    return out;
  },
};

/** Actions on data (not management): any of them on `*` exposes every object or model. */
const DATA_PLANE_ACTION =
  /^(s3:(\*|Get|Put|Delete|Abort|List)|bedrock:(\*|Invoke)|secretsmanager:(\*|GetSecretValue)|kms:(\*|Decrypt|Encrypt|GenerateDataKey)|dynamodb:|sqs:|sns:Publish|\*$)/;

/** Why a Resource entry is too broad for a data-plane action, or undefined when it is scoped. */
function broadResource(resource: string, condition: unknown): string | undefined {
  if (resource === '*') return 'Resource "*"';
  const parts = resource.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, , service, region, account] = parts;
  const id = parts.slice(5).join(':');
  if (id === '*' || id === '*/*' || (/^[\w-]+\/\*$/.test(id) && service !== 's3'))
    return `${resource} names no specific resource`;
  if (service === 'bedrock') {
    if (id.includes('*')) return `${resource} names no specific model`;
    if (account === '*') return `${resource} is not scoped to the account`;
    // Foundation models behind a cross-region profile live in several regions; allowed
    // only when the call must go through one of the listed profiles.
    const viaProfile = obj(obj(condition)?.StringLike)?.['bedrock:InferenceProfileArn'];
    if (region === '*' && viaProfile === undefined) return `${resource} is not scoped to a region`;
  }
  return undefined;
}

const iamDataPlaneScoped: Invariant = {
  name: 'iam-data-plane-scoped',
  description:
    'IAM policies never allow data-plane actions (S3 objects, Bedrock invocation, secrets, KMS) on "*" or on every resource of a service; Bedrock is scoped to region, account and model.',
  check(resources) {
    const out: Violation[] = [];
    for (const policy of [...ofType(resources, T.rolePolicy), ...ofType(resources, T.iamPolicy)]) {
      const raw = policy.props.policy;
      if (typeof raw !== 'string') continue;
      let doc: Props | undefined;
      try {
        doc = obj(JSON.parse(raw));
      } catch {
        continue;
      }
      const statements = Array.isArray(doc?.Statement) ? doc.Statement : [doc?.Statement];
      for (const st of statements.map(obj)) {
        if (!st || st.Effect !== 'Allow') continue;
        const actions = typeof st.Action === 'string' ? [st.Action] : strings(st.Action);
        if (!actions.some((a) => DATA_PLANE_ACTION.test(a))) continue;
        const list = typeof st.Resource === 'string' ? [st.Resource] : strings(st.Resource);
        for (const resource of list) {
          const why = broadResource(resource, st.Condition);
          if (why) out.push(violation(this.name, policy, `${actions.join(',')}: ${why}`));
        }
      }
    }
    return out;
  },
};

const timeoutsOrdered: Invariant = {
  name: 'timeouts-ordered',
  description:
    'A stop unfolds in order: the gateway drain (SHUTDOWN_DRAIN_SECONDS) ends before the ALB deregistration delay, which ends before stopTimeout (SIGKILL); ALB idle and CloudFront read timeouts outlast the SSE heartbeat.',
  check(resources) {
    const out: Violation[] = [];
    const heartbeat = (c: ContainerDefinition) =>
      Number(envOf(c).get('HEARTBEAT_SECONDS') ?? SSE_HEARTBEAT_SECONDS);
    for (const svc of ofType(resources, T.service)) {
      const task = byHandle(resources, T.taskDefinition, svc.props.taskDefinition);
      if (!task) continue;
      for (const lb of arr(svc.props.loadBalancers).map(obj)) {
        const tg = byHandle(resources, T.targetGroup, lb?.targetGroupArn);
        const container = containerDefinitions(task).find((c) => c.name === lb?.containerName);
        if (!tg || !container) continue;
        const delay = Number(tg.props.deregistrationDelay ?? 300);
        const stop = Number(container.stopTimeout ?? 30);
        const drain = Number(envOf(container).get('SHUTDOWN_DRAIN_SECONDS'));
        if (!(delay < stop))
          out.push(
            violation(this.name, tg, `deregistration delay ${delay} s >= stopTimeout ${stop} s`),
          );
        if (!Number.isFinite(drain) || !(drain < delay))
          out.push(
            violation(
              this.name,
              task,
              `drain ${String(drain)} s >= deregistration delay ${delay} s`,
            ),
          );
      }
    }
    const beat = Math.max(
      SSE_HEARTBEAT_SECONDS,
      ...ofType(resources, T.taskDefinition).flatMap((t) => containerDefinitions(t).map(heartbeat)),
    );
    for (const alb of ofType(resources, T.loadBalancer)) {
      const idle = Number(alb.props.idleTimeout ?? 60);
      if (!(idle > beat))
        out.push(violation(this.name, alb, `idle timeout ${idle} s <= SSE heartbeat ${beat} s`));
    }
    for (const dist of ofType(resources, T.distribution)) {
      for (const origin of arr(dist.props.origins).map(obj)) {
        const read = Number(
          obj(origin?.vpcOriginConfig)?.originReadTimeout ??
            obj(origin?.customOriginConfig)?.originReadTimeout ??
            30,
        );
        if (!(read > beat))
          out.push(
            violation(this.name, dist, `origin read timeout ${read} s <= SSE heartbeat ${beat} s`),
          );
      }
    }
    return out;
  },
};

export const invariants: Invariant[] = [
  capacityStrategy,
  circuitBreaker,
  privateTasks,
  taskHardening,
  taskSecrets,
  wafOnCloudFront,
  wafRules,
  cloudFrontApi,
  albOnlyFromCloudFront,
  noPublicIngress,
  alarmActions,
  logRetention,
  ecrHardening,
  s3Private,
  databasePrivate,
  cachePrivate,
  albStreaming,
  sharedApiKeySecret,
  wafManagedGroupsEnforced,
  alarmsPresent,
  prodDeletionProtection,
  metricsNotPublic,
  iamDataPlaneScoped,
  timeoutsOrdered,
  pausableDatabaseIdle,
];

export function checkAll(resources: ResourceRecord[]): Violation[] {
  return invariants.flatMap((inv) => inv.check(resources));
}
