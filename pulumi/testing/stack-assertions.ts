/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   Spec helper over untyped recorded resource props: the same relaxations eslint.config.mjs gives *.spec.ts. */
import {
  ALL_VIEWER_EXCEPT_HOST_HEADER,
  CACHING_DISABLED,
  checkAll,
  containerDefinitions,
  ingressRules,
  subnetIsPublic,
  T,
} from '../policy';
import { MockedStack, RecordedResource, runMockedStack } from './mock-stack';

type Props = Record<string, any>;

/** Config value as the YAML files state it (after Pulumi.yaml defaults). */
function num(stack: MockedStack, key: string): number {
  return Number(stack.config[`switchboard:${key}`]);
}
function list(stack: MockedStack, key: string): string[] {
  return JSON.parse(stack.config[`switchboard:${key}`] ?? '[]') as string[];
}
function flag(stack: MockedStack, key: string): boolean {
  return stack.config[`switchboard:${key}`] === 'true';
}

function expectedStrategy(stack: MockedStack) {
  const base = num(stack, 'onDemandBase');
  const onDemand = num(stack, 'onDemandWeight');
  const spot = num(stack, 'spotWeight');
  return [
    ...(base > 0 || onDemand > 0 ? [{ capacityProvider: 'FARGATE', base, weight: onDemand }] : []),
    ...(spot > 0 ? [{ capacityProvider: 'FARGATE_SPOT', weight: spot }] : []),
  ];
}

/**
 * The assertions every stack must satisfy, parameterised by the stack's own YAML. Call from
 * a dedicated spec file per stack: the mocked Pulumi runtime is process-global.
 */
export function describeStack(
  stackName: string,
  expectations: { natGateways: number; azs: number },
): void {
  describe(`stack ${stackName} (Pulumi.${stackName}.yaml under mocks)`, () => {
    let stack: MockedStack;
    let service: RecordedResource;
    let container: Props;

    beforeAll(async () => {
      stack = await runMockedStack(stackName);
      service = stack.one(T.service);
      container = containerDefinitions(stack.one(T.taskDefinition))[0];
    });

    it('passes every policy invariant', () => {
      expect(checkAll(stack.resources)).toEqual([]);
    });

    it('runs no trace collector and grants no X-Ray access unless tracesEnabled', () => {
      const containers = containerDefinitions(stack.one(T.taskDefinition));
      expect(containers).toHaveLength(1);
      expect((containers[0].environment ?? []).map((e) => e.name)).not.toContain(
        'OTEL_TRACES_ENABLED',
      );
      const taskPolicy = stack
        .ofType('aws:iam/rolePolicy:RolePolicy')
        .find((p) => p.name.endsWith('-task'));
      expect(String(taskPolicy?.props.policy)).not.toContain('xray:');
    });

    describe('network', () => {
      it(`spreads public and private subnets over ${expectations.azs} AZs`, () => {
        const subnets = stack.ofType(T.subnet);
        expect(subnets).toHaveLength(expectations.azs * 2);
        expect(new Set(subnets.map((s) => s.props.availabilityZone)).size).toBe(expectations.azs);
        const publicOnes = subnets.filter((s) => subnetIsPublic(stack.resources, s.id) === true);
        expect(publicOnes.map((s) => s.name).sort()).toEqual(
          subnets
            .filter((s) => s.name.includes('public'))
            .map((s) => s.name)
            .sort(),
        );
        expect(subnets.every((s) => s.props.mapPublicIpOnLaunch === false)).toBe(true);
      });

      it(`has ${expectations.natGateways} NAT gateway(s); private route tables egress through one or not at all`, () => {
        expect(stack.ofType('aws:ec2/natGateway:NatGateway')).toHaveLength(
          expectations.natGateways,
        );
        const natIds = new Set(stack.ofType('aws:ec2/natGateway:NatGateway').map((n) => n.id));
        const privateTables = stack
          .ofType(T.routeTable)
          .filter((rt) => rt.name.includes('private'));
        expect(privateTables).toHaveLength(expectations.azs);
        for (const rt of privateTables) {
          const routes = rt.props.routes as Props[];
          if (expectations.natGateways === 0) expect(routes).toEqual([]);
          else expect(natIds.has(routes[0].natGatewayId)).toBe(true);
        }
      });

      it('has the free S3 gateway endpoint on every route table and interface endpoints only when configured', () => {
        const region = stack.config['aws:region'];
        const endpoints = stack.ofType('aws:ec2/vpcEndpoint:VpcEndpoint');
        const s3 = endpoints.find((e) => e.props.vpcEndpointType === 'Gateway');
        expect(s3?.props.serviceName).toBe(`com.amazonaws.${region}.s3`);
        expect((s3?.props.routeTableIds as string[]).sort()).toEqual(
          stack
            .ofType(T.routeTable)
            .map((rt) => rt.id)
            .sort(),
        );
        const interfaces = endpoints.filter((e) => e.props.vpcEndpointType === 'Interface');
        expect(interfaces).toHaveLength(flag(stack, 'interfaceEndpoints') ? 4 : 0);
      });

      it('admits nothing from addresses except CloudFront to the ALB: its prefix list and its VPC-origin service group', () => {
        const rules = ingressRules(stack.resources);
        expect(rules.flatMap((r) => r.cidrs)).toEqual([]);
        const alb = stack.one(T.loadBalancer);
        const albRules = rules.filter((r) =>
          (alb.props.securityGroups as string[]).includes(r.securityGroup as string),
        );
        expect(albRules.map((r) => [r.prefixLists, r.referencedGroups])).toEqual(
          expect.arrayContaining([
            [['pl-4fa04526'], []],
            [[], ['sg-cloudfront-vpc-origins']],
          ]),
        );
        expect(albRules).toHaveLength(2);
        const listenerPort = stack.one(T.listener).props.port;
        for (const r of albRules)
          expect([r.fromPort, r.toPort]).toEqual([listenerPort, listenerPort]);
        // Tasks: only the ALB, only on the container port (never the metrics port).
        const task = rules.filter((r) =>
          (service.props.networkConfiguration as Props).securityGroups.includes(r.securityGroup),
        );
        expect(task.map((r) => [r.referencedGroups, r.fromPort, r.toPort])).toEqual([
          [alb.props.securityGroups, num(stack, 'containerPort'), num(stack, 'containerPort')],
        ]);
      });
    });

    describe('service', () => {
      it('uses the capacity provider strategy from config and never launchType', () => {
        expect(service.props.capacityProviderStrategies).toEqual(expectedStrategy(stack));
        expect(service.props.launchType).toBeUndefined();
        const association = stack.one(T.capacityProviders);
        expect(association.props.capacityProviders).toEqual(['FARGATE', 'FARGATE_SPOT']);
      });

      it('sets Container Insights from config', () => {
        expect(stack.one(T.cluster).props.settings).toEqual([
          { name: 'containerInsights', value: stack.config['switchboard:containerInsights'] },
        ]);
      });

      it('runs tasks in private subnets, or in public subnets with a public IP when configured', () => {
        const net = service.props.networkConfiguration as Props;
        const publicLayout = stack.config['switchboard:taskNetworking'] === 'public';
        expect(net.assignPublicIp).toBe(publicLayout);
        for (const subnet of net.subnets as string[])
          expect(subnetIsPublic(stack.resources, subnet)).toBe(publicLayout);
        expect(stack.one(T.taskDefinition).props.runtimePlatform).toEqual({
          operatingSystemFamily: 'LINUX',
          cpuArchitecture: stack.config['switchboard:cpuArchitecture'],
        });
      });

      it('rolls back failed deployments and gives new tasks the configured grace period', () => {
        expect(service.props.deploymentCircuitBreaker).toEqual({ enable: true, rollback: true });
        expect(service.props.healthCheckGracePeriodSeconds).toBe(
          num(stack, 'healthCheckGraceSeconds'),
        );
      });

      it('sizes the task from config and hardens the container', () => {
        const task = stack.one(T.taskDefinition);
        expect(task.props.cpu).toBe(String(num(stack, 'taskCpu')));
        expect(task.props.memory).toBe(String(num(stack, 'taskMemory')));
        expect(task.props.volumes).toEqual([{ name: 'tmp' }]);
        expect(container).toMatchObject({
          user: '1000:1000',
          readonlyRootFilesystem: true,
          stopTimeout: 120,
          linuxParameters: { initProcessEnabled: true },
          mountPoints: [{ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false }],
        });
        expect(container.healthCheck.command.join(' ')).toContain(
          `http://127.0.0.1:${num(stack, 'containerPort')}/health`,
        );
      });

      it('injects the admin key, API key secret, database URL and provider keys only by valueFrom', () => {
        const secrets = container.secrets as { name: string; valueFrom: string }[];
        expect(secrets.map((s) => s.name).sort()).toEqual(
          [
            'ADMIN_API_KEY',
            'API_KEY_SECRET',
            'DATABASE_URL',
            ...list(stack, 'providerSecrets'),
          ].sort(),
        );
        for (const s of secrets) expect(s.valueFrom).toMatch(/^arn:aws:secretsmanager:/);
        const env = Object.fromEntries(
          (container.environment as { name: string; value: string }[]).map((e) => [
            e.name,
            e.value,
          ]),
        );
        for (const name of [
          'ADMIN_API_KEY',
          'API_KEY_SECRET',
          'DATABASE_URL',
          'OPENAI_API_KEY',
          'GEMINI_API_KEY',
        ])
          expect(env).not.toHaveProperty(name);
        expect(env).toMatchObject({
          PORT: String(num(stack, 'containerPort')),
          METRICS_PORT: String(num(stack, 'metricsPort')),
          DATA_DIR: '/tmp/switchboard',
          SHUTDOWN_DRAIN_SECONDS: String(num(stack, 'shutdownDrainSeconds')),
          AWS_REGION: stack.config['aws:region'],
          EMF_METRICS: 'true',
          // Must equal the Service dimension the streams policy and the alarms select on.
          SERVICE_NAME: `switchboard-${stackName}`,
        });
        if (flag(stack, 'cacheEnabled')) expect(env.REDIS_URL).toMatch(/^rediss:\/\//);
        else expect(env).not.toHaveProperty('REDIS_URL');
        // Only the container port is mapped: nothing can target the metrics port.
        expect(container.portMappings.map((m: Props) => m.containerPort)).toEqual([
          num(stack, 'containerPort'),
        ]);
        expect(env.BLOB_STORE).toMatch(/^s3:\/\/[a-z0-9.-]+\/uploads$/);
        expect(Number(env.SHUTDOWN_DRAIN_SECONDS)).toBeLessThan(
          Number(stack.one(T.targetGroup).props.deregistrationDelay),
        );
      });

      it('lets the execution role read exactly the injected secrets', () => {
        const policy = JSON.parse(
          stack.one('aws:iam/rolePolicy:RolePolicy', 'execution-secrets').props.policy as string,
        );
        const allowed = policy.Statement[0].Resource as string[];
        expect(allowed.sort()).toEqual(
          (container.secrets as { valueFrom: string }[]).map((s) => s.valueFrom).sort(),
        );
      });

      it('keeps gateway, WAF and CloudFront logs for the configured retention', () => {
        const groups = stack.ofType(T.logGroup);
        expect(groups.map((g) => g.props.name).sort()).toEqual(
          [
            `/switchboard/switchboard-${stackName}`,
            `/switchboard/switchboard-${stackName}/cloudfront`,
            `aws-waf-logs-switchboard-${stackName}`,
          ].sort(),
        );
        for (const g of groups)
          expect(g.props.retentionInDays).toBe(num(stack, 'logRetentionDays'));
        expect(container.logConfiguration.options['awslogs-group']).toBe(
          `/switchboard/switchboard-${stackName}`,
        );
      });

      it('autoscales between minTasks and maxTasks on CPU, memory and open streams per task', () => {
        const target = stack.one('aws:appautoscaling/target:Target');
        expect(target.props).toMatchObject({
          minCapacity: num(stack, 'minTasks'),
          maxCapacity: num(stack, 'maxTasks'),
        });
        const configs = stack
          .ofType('aws:appautoscaling/policy:Policy')
          .map((p) => p.props.targetTrackingScalingPolicyConfiguration as Props);
        expect(
          configs
            .map((c) => c.predefinedMetricSpecification?.predefinedMetricType)
            .filter(Boolean)
            .sort(),
        ).toEqual(['ECSServiceAverageCPUUtilization', 'ECSServiceAverageMemoryUtilization']);
        const streams = configs.find((c) => c.customizedMetricSpecification);
        expect(streams).toMatchObject({
          targetValue: num(stack, 'streamsPerTaskTarget'),
          customizedMetricSpecification: {
            namespace: 'Switchboard',
            metricName: 'ActiveStreams',
            statistic: 'Average',
            dimensions: [{ name: 'Service', value: `switchboard-${stackName}` }],
          },
        });
      });
    });

    describe('load balancer', () => {
      it('is internal with a 300 s idle timeout, drops invalid headers and logs to S3', () => {
        const alb = stack.one(T.loadBalancer);
        expect(alb.props).toMatchObject({
          internal: true,
          idleTimeout: 300,
          dropInvalidHeaderFields: true,
        });
        expect(alb.props.accessLogs).toMatchObject({
          enabled: true,
          bucket: stack.one(T.bucket, 'access-logs').props.bucket,
        });
        for (const subnet of alb.props.subnets as string[])
          expect(subnetIsPublic(stack.resources, subnet)).toBe(false);
      });

      it('checks /ready, deregisters before stopTimeout and routes by least outstanding requests', () => {
        const tg = stack.one(T.targetGroup);
        expect(num(stack, 'deregistrationDelaySeconds')).toBeLessThan(container.stopTimeout);
        expect(tg.props).toMatchObject({
          deregistrationDelay: num(stack, 'deregistrationDelaySeconds'),
          loadBalancingAlgorithmType: 'least_outstanding_requests',
          targetType: 'ip',
          port: num(stack, 'containerPort'),
        });
        expect((tg.props.healthCheck as Props).path).toBe('/ready');
        expect(service.props.loadBalancers).toEqual([
          {
            targetGroupArn: tg.props.arn,
            containerName: 'gateway',
            containerPort: num(stack, 'containerPort'),
          },
        ]);
      });
    });

    describe('edge', () => {
      it('attaches a CLOUDFRONT web ACL created through the us-east-1 provider by ARN', () => {
        const acl = stack.one(T.webAcl);
        const dist = stack.one(T.distribution);
        expect(acl.props.scope).toBe('CLOUDFRONT');
        expect(acl.region).toBe('us-east-1');
        expect(acl.provider).toMatch(/pulumi:providers:aws::us-east-1::/);
        expect(dist.props.webAclId).toBe(acl.props.arn);
        // The WAF alarm's WebACL dimension is both the ACL's name and its metric name.
        const metricName = (acl.props.visibilityConfig as Props).metricName;
        expect(acl.props.name).toBe(metricName);
        expect(stack.one(T.alarm, 'waf-blocked').props.dimensions).toEqual({
          WebACL: metricName,
          Rule: 'ALL',
        });
      });

      it('runs the managed rule groups, counts large bodies and rate-limits per IP from config', () => {
        const rules = stack.one(T.webAcl).props.rules as Props[];
        const byName = Object.fromEntries(rules.map((r) => [r.name, r]));
        const open = flag(stack, 'adminOpen');
        expect(rules.map((r) => r.name)).toEqual([
          ...(open ? [] : ['admin-allow-list']),
          'admin-rate-per-ip',
          'AWSManagedRulesAmazonIpReputationList',
          'AWSManagedRulesCommonRuleSet',
          'AWSManagedRulesKnownBadInputsRuleSet',
          'rate-per-ip',
        ]);
        for (const r of rules.filter((x) => x.statement.managedRuleGroupStatement))
          expect(r.overrideAction).toEqual({ none: {} });
        expect(
          byName.AWSManagedRulesCommonRuleSet.statement.managedRuleGroupStatement
            .ruleActionOverrides,
        ).toEqual([{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }]);
        expect(byName['rate-per-ip'].statement.rateBasedStatement).toMatchObject({
          limit: num(stack, 'wafRateLimit'),
          aggregateKeyType: 'IP',
        });
        const adminPath = {
          byteMatchStatement: {
            searchString: '/admin',
            positionalConstraint: 'STARTS_WITH',
            fieldToMatch: { uriPath: {} },
            textTransformations: [
              { priority: 0, type: 'URL_DECODE' },
              { priority: 1, type: 'NORMALIZE_PATH' },
              { priority: 2, type: 'LOWERCASE' },
            ],
          },
        };
        expect(byName['admin-rate-per-ip']).toMatchObject({
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: num(stack, 'adminRateLimit'),
              aggregateKeyType: 'IP',
              scopeDownStatement: adminPath,
            },
          },
        });
        const ipSets = stack.ofType('aws:wafv2/ipSet:IpSet');
        if (open) {
          expect(ipSets).toHaveLength(0);
          return;
        }
        expect(ipSets).toHaveLength(1);
        expect(ipSets[0].region).toBe('us-east-1');
        expect(ipSets[0].props).toMatchObject({
          scope: 'CLOUDFRONT',
          addresses: list(stack, 'adminAllowedCidrs'),
        });
        expect(byName['admin-allow-list']).toMatchObject({
          priority: 0,
          action: { block: {} },
          statement: {
            andStatement: {
              statements: [
                adminPath,
                {
                  notStatement: {
                    statement: { ipSetReferenceStatement: { arn: ipSets[0].props.arn } },
                  },
                },
              ],
            },
          },
        });
      });

      it('logs WAF requests with credentials redacted, and CloudFront requests, in us-east-1', () => {
        const logging = stack.one(
          'aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration',
        );
        const wafLogs = stack.one(T.logGroup, 'waf-logs');
        expect(logging.region).toBe('us-east-1');
        expect(logging.props).toMatchObject({
          resourceArn: stack.one(T.webAcl).props.arn,
          logDestinationConfigs: [wafLogs.props.arn],
        });
        expect(logging.props.redactedFields).toEqual(
          expect.arrayContaining([{ singleHeader: { name: 'authorization' } }]),
        );
        const source = stack.one('aws:cloudwatch/logDeliverySource:LogDeliverySource');
        const destination = stack.one(
          'aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination',
        );
        const delivery = stack.one('aws:cloudwatch/logDelivery:LogDelivery');
        expect(source.props).toMatchObject({
          logType: 'ACCESS_LOGS',
          resourceArn: stack.one(T.distribution).props.arn,
        });
        expect(destination.props.deliveryDestinationConfiguration).toEqual({
          destinationResourceArn: stack.one(T.logGroup, 'cdn-logs').props.arn,
        });
        expect(delivery.props).toMatchObject({
          deliverySourceName: source.props.name,
          deliveryDestinationArn: destination.props.arn,
        });
        for (const r of [source, destination, delivery, wafLogs])
          expect(r.region).toBe('us-east-1');
      });

      it('serves the API uncached, uncompressed and HTTPS-only through a VPC origin to the ALB', () => {
        const dist = stack.one(T.distribution);
        expect(dist.props.defaultCacheBehavior).toMatchObject({
          cachePolicyId: CACHING_DISABLED,
          originRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
          compress: false,
          viewerProtocolPolicy: 'https-only',
        });
        const origin = stack.one(T.vpcOrigin);
        expect((origin.props.vpcOriginEndpointConfig as Props).arn).toBe(
          stack.one(T.loadBalancer).props.arn,
        );
        expect((dist.props.origins as Props[])[0].vpcOriginConfig.vpcOriginId).toBe(origin.id);
      });
    });

    describe('data', () => {
      it('runs Aurora Serverless v2 encrypted and private with capacity from config', () => {
        const db = stack.one(T.dbCluster);
        expect(db.props).toMatchObject({
          engine: 'aurora-postgresql',
          storageEncrypted: true,
          deletionProtection: stack.config['switchboard:deletionProtection'] === 'true',
          serverlessv2ScalingConfiguration: {
            minCapacity: Number(stack.config['switchboard:dbMinCapacity']),
            maxCapacity: Number(stack.config['switchboard:dbMaxCapacity']),
          },
        });
        const instances = stack.ofType(T.dbClusterInstance);
        expect(instances).toHaveLength(num(stack, 'dbInstances'));
        for (const i of instances)
          expect(i.props).toMatchObject({
            instanceClass: 'db.serverless',
            publiclyAccessible: false,
          });
      });

      it('pins the engine to the major version, pauses at 0 ACU and owns the password as a resource', () => {
        const db = stack.one(T.dbCluster);
        expect(db.props.engineVersion).toBe('16');
        expect(db.props.allowMajorVersionUpgrade).toBe(false);
        const scaling = db.props.serverlessv2ScalingConfiguration as Props;
        if (scaling.minCapacity === 0)
          expect(scaling.secondsUntilAutoPause).toBe(num(stack, 'dbAutoPauseSeconds'));
        else expect(scaling.secondsUntilAutoPause).toBeUndefined();
        const password = stack.one('random:index/randomPassword:RandomPassword', 'db-password');
        expect(password.props).toMatchObject({ length: 40, special: false });
        expect(db.props.masterPassword).toBe(password.props.result);
        const url = stack
          .ofType('aws:secretsmanager/secretVersion:SecretVersion')
          .find((v) => v.name.endsWith('database-url'));
        expect(url?.props.secretString).toBe(
          `postgres://switchboard:${String(password.props.result)}@${String(db.props.endpoint)}:5432/switchboard?sslmode=verify-full`,
        );
      });

      it('lets the task invoke only the catalogue Bedrock models, in its region and account', () => {
        const policy = JSON.parse(
          stack.one('aws:iam/rolePolicy:RolePolicy', '-task').props.policy as string,
        );
        const bedrock = (policy.Statement as Props[]).filter((st) =>
          String(st.Action).includes('bedrock:'),
        );
        const region = stack.config['aws:region'];
        const resources = bedrock.flatMap((st) => st.Resource as string[]);
        expect(resources).toContain(
          `arn:aws:bedrock:${region}::foundation-model/mistral.mistral-large-2407-v1:0`,
        );
        expect(resources).toContain(
          `arn:aws:bedrock:${region}:123456789012:inference-profile/us.amazon.nova-pro-v1:0`,
        );
        for (const r of resources) expect(r).not.toMatch(/\/\*$|^\*$/);
        const behind = bedrock.find((st) => st.Sid === 'BedrockModelsBehindProfiles');
        expect(behind?.Condition.StringLike['bedrock:InferenceProfileArn']).toContain(
          `arn:aws:bedrock:${region}:123456789012:inference-profile/us.amazon.nova-pro-v1:0`,
        );
      });

      it('runs a Valkey serverless cache in private subnets, or none when disabled', () => {
        if (!flag(stack, 'cacheEnabled')) {
          expect(stack.ofType(T.serverlessCache)).toEqual([]);
          return;
        }
        const cache = stack.one(T.serverlessCache);
        expect(cache.props.engine).toBe('valkey');
        for (const subnet of cache.props.subnetIds as string[])
          expect(subnetIsPublic(stack.resources, subnet)).toBe(false);
      });

      it('versions, encrypts and blocks public access on the uploads bucket', () => {
        const bucket = stack.one(T.bucket, 'uploads');
        expect(
          stack.one('aws:s3/bucketVersioning:BucketVersioning', 'uploads').props,
        ).toMatchObject({
          bucket: bucket.id,
          versioningConfiguration: { status: 'Enabled' },
        });
        expect(stack.one(T.bucketEncryption, 'uploads').props.bucket).toBe(bucket.id);
        expect(stack.one(T.publicAccessBlock, 'uploads').props).toMatchObject({
          bucket: bucket.id,
          restrictPublicBuckets: true,
        });
      });

      it('stores images in an immutable, scanned ECR repository', () => {
        expect(stack.one(T.ecrRepository).props).toMatchObject({
          imageTagMutability: 'IMMUTABLE',
          imageScanningConfiguration: { scanOnPush: true },
        });
        expect(container.image).toBe(
          `${String(stack.outputs.ecrRepositoryUrl)}:${stack.config['switchboard:imageTag']}`,
        );
      });
    });

    describe('monitoring', () => {
      const regional = (cache: boolean) => [
        'alb-5xx',
        'target-5xx',
        'alb-4xx',
        'alb-rejected-connections',
        'unhealthy-hosts',
        'no-healthy-tasks',
        'cpu-high',
        'memory-high',
        'ttft-p99',
        'dependencies-down',
        'error-rate',
        'db-cpu',
        'db-connections',
        'db-acu-at-max',
        ...(cache ? ['cache-throttled', 'cache-storage-at-limit', 'cache-ecpu-at-limit'] : []),
      ];
      const edge = ['waf-blocked', 'cloudfront-5xx'];

      it('alarms on every required signal, each notifying a topic in its own region', () => {
        const alarms = stack.ofType(T.alarm);
        const names = alarms.map((a) => a.name.replace(`switchboard-${stackName}-`, ''));
        expect(names.sort()).toEqual([...regional(flag(stack, 'cacheEnabled')), ...edge].sort());
        const topics = stack.ofType('aws:sns/topic:Topic');
        for (const alarm of alarms) {
          const topic = topics.find(
            (t) => t.props.arn === (alarm.props.alarmActions as string[])[0],
          );
          expect(topic?.region).toBe(alarm.region);
          expect(alarm.region).toBe(
            edge.some((e) => alarm.name.endsWith(e)) ? 'us-east-1' : stack.config['aws:region'],
          );
        }
      });

      it('treats missing task data as breaching and reads the gateway EMF metrics', () => {
        expect(stack.one(T.alarm, 'no-healthy-tasks').props).toMatchObject({
          metricName: 'HealthyHostCount',
          treatMissingData: 'breaching',
        });
        expect(stack.one(T.alarm, 'ttft-p99').props).toMatchObject({
          namespace: 'Switchboard',
          metricName: 'TimeToFirstTokenMs',
          extendedStatistic: 'p99',
          threshold: num(stack, 'ttftP99ThresholdMs'),
        });
        expect(stack.one(T.alarm, 'db-acu-at-max').props).toMatchObject({
          metricName: 'ServerlessDatabaseCapacity',
          threshold: Number(stack.config['switchboard:dbMaxCapacity']) * 0.9,
        });
        const errorRate = stack.one(T.alarm, 'error-rate').props.metricQueries as Props[];
        expect(errorRate.map((q) => q.metric?.metricName ?? q.expression)).toEqual([
          'Errors',
          'Requests',
          'IF(requests > 0, 100 * errors / requests, 0)',
        ]);
      });

      it('sends deployment failures and Spot interruptions through EventBridge, and a budget, to the alarm topic', () => {
        const topic = stack
          .ofType('aws:sns/topic:Topic')
          .find((t) => t.region === stack.config['aws:region']);
        const rules = stack.ofType(T.eventRule);
        const patterns = Object.fromEntries(
          rules.map((r) => [
            r.name.replace(`switchboard-${stackName}-`, ''),
            JSON.parse(r.props.eventPattern as string),
          ]),
        );
        expect(patterns['deployment-failed']).toEqual({
          source: ['aws.ecs'],
          'detail-type': ['ECS Deployment State Change'],
          resources: [service.props.arn],
          detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] },
        });
        expect(patterns['spot-interruption']).toEqual({
          source: ['aws.ecs'],
          'detail-type': ['ECS Task State Change'],
          detail: { clusterArn: [stack.one(T.cluster).props.arn], stopCode: ['SpotInterruption'] },
        });
        for (const target of stack.ofType('aws:cloudwatch/eventTarget:EventTarget'))
          expect(target.props.arn).toBe(topic?.props.arn);
        const topicPolicy = JSON.parse(
          stack.one('aws:sns/topicPolicy:TopicPolicy').props.policy as string,
        );
        expect(topicPolicy.Statement[0].Principal.Service).toEqual([
          'events.amazonaws.com',
          'budgets.amazonaws.com',
        ]);
        const budget = stack.one(T.budget);
        expect(budget.props).toMatchObject({
          budgetType: 'COST',
          limitAmount: Number(stack.config['switchboard:monthlyBudgetUsd']).toFixed(2),
          timeUnit: 'MONTHLY',
        });
        for (const n of budget.props.notifications as Props[])
          expect(n.subscriberSnsTopicArns).toEqual([topic?.props.arn]);
      });

      it('subscribes the alarm email only when configured', () => {
        const email = stack.config['switchboard:alarmEmail'];
        const subscriptions = stack.ofType('aws:sns/topicSubscription:TopicSubscription');
        expect(subscriptions).toHaveLength(email ? 2 : 0);
        for (const s of subscriptions)
          expect(s.props).toMatchObject({ protocol: 'email', endpoint: email });
      });

      it('charts active streams, tokens/min and cost/min on the dashboard', () => {
        const body = JSON.stringify(
          JSON.parse(stack.one('aws:cloudwatch/dashboard:Dashboard').props.dashboardBody as string),
        );
        for (const metric of [
          'ActiveStreams',
          'TokensOut',
          'CostMicros',
          'TimeToFirstTokenMs',
          'BlockedRequests',
          'RunningTaskCount',
        ]) {
          expect(body).toContain(metric);
        }
      });
    });

    // scripts/ops/lib/cli.mjs (stackNames) derives URNs and names from these; keep them in step.
    it('keeps the resource names the ops scripts rely on', () => {
      const base = `switchboard-${stackName}`;
      expect(stack.one(T.ecrRepository).name).toBe(`${base}-ecr`);
      expect(stack.one(T.logGroup, `${base}-logs`).props.name).toBe(`/switchboard/${base}`);
      for (const envName of [
        'ADMIN_API_KEY',
        'API_KEY_SECRET',
        ...list(stack, 'providerSecrets'),
      ]) {
        const secret = stack.one(
          'aws:secretsmanager/secret:Secret',
          `${base}-${envName.toLowerCase().replace(/_/g, '-')}`,
        );
        expect(secret.props.name).toBe(`${base}/${envName}`);
      }
    });

    it('exports the service URL, ALB DNS, ECR URL, log group and dashboard URL', () => {
      expect(stack.outputs).toMatchObject({
        serviceUrl: expect.stringMatching(/^https:\/\/.+\.cloudfront\.net$/),
        albDnsName: expect.stringContaining('elb.amazonaws.com'),
        ecrRepositoryUrl: expect.stringContaining('.dkr.ecr.'),
        logGroupName: `/switchboard/switchboard-${stackName}`,
        dashboardUrl: expect.stringContaining('#dashboards:name='),
      });
    });
  });
}
