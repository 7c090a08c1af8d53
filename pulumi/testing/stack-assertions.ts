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

      it(`has ${expectations.natGateways} NAT gateway(s) and every private route table egresses through one`, () => {
        expect(stack.ofType('aws:ec2/natGateway:NatGateway')).toHaveLength(
          expectations.natGateways,
        );
        const natIds = new Set(stack.ofType('aws:ec2/natGateway:NatGateway').map((n) => n.id));
        const privateTables = stack
          .ofType(T.routeTable)
          .filter((rt) => rt.name.includes('private'));
        expect(privateTables).toHaveLength(expectations.azs);
        for (const rt of privateTables)
          expect(natIds.has((rt.props.routes as Props[])[0].natGatewayId)).toBe(true);
      });

      it('has S3 gateway and ECR, Logs and Secrets Manager interface endpoints', () => {
        const region = stack.config['aws:region'];
        const endpoints = stack
          .ofType('aws:ec2/vpcEndpoint:VpcEndpoint')
          .map((e) => [e.props.serviceName, e.props.vpcEndpointType]);
        expect(endpoints).toEqual(
          expect.arrayContaining([
            [`com.amazonaws.${region}.s3`, 'Gateway'],
            [`com.amazonaws.${region}.ecr.api`, 'Interface'],
            [`com.amazonaws.${region}.ecr.dkr`, 'Interface'],
            [`com.amazonaws.${region}.logs`, 'Interface'],
            [`com.amazonaws.${region}.secretsmanager`, 'Interface'],
          ]),
        );
      });

      it('admits nothing from 0.0.0.0/0: the ALB only from the CloudFront prefix list, the rest only from security groups', () => {
        const rules = ingressRules(stack.resources);
        expect(rules.length).toBeGreaterThanOrEqual(5);
        expect(rules.flatMap((r) => r.cidrs)).toEqual([]);
        const alb = stack.one(T.loadBalancer);
        const albRules = rules.filter((r) =>
          (alb.props.securityGroups as string[]).includes(r.securityGroup as string),
        );
        expect(albRules).toHaveLength(1);
        expect(albRules[0].prefixLists).toEqual(['pl-4fa04526']);
      });
    });

    describe('service', () => {
      it('uses the capacity provider strategy from config and never launchType', () => {
        expect(service.props.capacityProviderStrategies).toEqual(expectedStrategy(stack));
        expect(service.props.launchType).toBeUndefined();
        const association = stack.one(T.capacityProviders);
        expect(association.props.capacityProviders).toEqual(['FARGATE', 'FARGATE_SPOT']);
      });

      it('enables Container Insights on the cluster', () => {
        expect(stack.one(T.cluster).props.settings).toEqual([
          { name: 'containerInsights', value: 'enhanced' },
        ]);
      });

      it('rolls back failed deployments and gives new tasks the configured grace period', () => {
        expect(service.props.deploymentCircuitBreaker).toEqual({ enable: true, rollback: true });
        expect(service.props.healthCheckGracePeriodSeconds).toBe(
          num(stack, 'healthCheckGraceSeconds'),
        );
        expect(service.props.networkConfiguration).toMatchObject({ assignPublicIp: false });
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

      it('injects the admin key, database URL and provider keys only by valueFrom', () => {
        const secrets = container.secrets as { name: string; valueFrom: string }[];
        expect(secrets.map((s) => s.name).sort()).toEqual(
          ['ADMIN_API_KEY', 'DATABASE_URL', ...list(stack, 'providerSecrets')].sort(),
        );
        for (const s of secrets) expect(s.valueFrom).toMatch(/^arn:aws:secretsmanager:/);
        const env = Object.fromEntries(
          (container.environment as { name: string; value: string }[]).map((e) => [
            e.name,
            e.value,
          ]),
        );
        for (const name of ['ADMIN_API_KEY', 'DATABASE_URL', 'OPENAI_API_KEY', 'GEMINI_API_KEY'])
          expect(env).not.toHaveProperty(name);
        expect(env).toMatchObject({
          PORT: String(num(stack, 'containerPort')),
          DATA_DIR: '/tmp/switchboard',
          SHUTDOWN_DRAIN_SECONDS: String(num(stack, 'shutdownDrainSeconds')),
          AWS_REGION: stack.config['aws:region'],
          EMF_METRICS: 'true',
          // Must equal the Service dimension the streams policy and the alarms select on.
          SERVICE_NAME: `switchboard-${stackName}`,
        });
        expect(env.REDIS_URL).toMatch(/^rediss:\/\//);
        expect(env.BLOB_STORE).toMatch(/^s3:\/\/[a-z0-9.-]+\/uploads$/);
        expect(Number(env.SHUTDOWN_DRAIN_SECONDS)).toBeLessThan(container.stopTimeout);
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

      it('keeps logs for the configured retention', () => {
        expect(stack.one(T.logGroup).props.retentionInDays).toBe(num(stack, 'logRetentionDays'));
        expect(container.logConfiguration.options['awslogs-group']).toBe(
          stack.one(T.logGroup).props.name,
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

      it('checks /ready, drains for 120 s and routes by least outstanding requests', () => {
        const tg = stack.one(T.targetGroup);
        expect(tg.props).toMatchObject({
          deregistrationDelay: 120,
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
        expect(rules.map((r) => r.name)).toEqual([
          'AWSManagedRulesAmazonIpReputationList',
          'AWSManagedRulesCommonRuleSet',
          'AWSManagedRulesKnownBadInputsRuleSet',
          'rate-per-ip',
        ]);
        expect(rules[1].statement.managedRuleGroupStatement.ruleActionOverrides).toEqual([
          { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
        ]);
        expect(rules[3].statement.rateBasedStatement).toMatchObject({
          limit: num(stack, 'wafRateLimit'),
          aggregateKeyType: 'IP',
        });
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
          deletionProtection: stack.config['switchboard:dbDeletionProtection'] === 'true',
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

      it('runs a Valkey serverless cache in private subnets', () => {
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
      const regional = [
        'alb-5xx',
        'target-5xx',
        'unhealthy-hosts',
        'no-running-tasks',
        'cpu-high',
        'memory-high',
        'ttft-p95',
        'error-rate',
        'db-cpu',
        'db-connections',
        'cache-throttled',
      ];
      const edge = ['waf-blocked', 'cloudfront-5xx'];

      it('alarms on every required signal, each notifying a topic in its own region', () => {
        const alarms = stack.ofType(T.alarm);
        const names = alarms.map((a) => a.name.replace(`switchboard-${stackName}-`, ''));
        expect(names.sort()).toEqual([...regional, ...edge].sort());
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
        expect(stack.one(T.alarm, 'no-running-tasks').props.treatMissingData).toBe('breaching');
        expect(stack.one(T.alarm, 'ttft-p95').props).toMatchObject({
          namespace: 'Switchboard',
          metricName: 'TimeToFirstTokenMs',
          extendedStatistic: 'p95',
          threshold: num(stack, 'ttftP95ThresholdMs'),
        });
        const errorRate = stack.one(T.alarm, 'error-rate').props.metricQueries as Props[];
        expect(errorRate.map((q) => q.metric?.metricName ?? q.expression)).toEqual([
          'Errors',
          'Requests',
          'IF(requests > 0, 100 * errors / requests, 0)',
        ]);
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
      expect(stack.one(T.logGroup).props.name).toBe(`/switchboard/${base}`);
      for (const envName of list(stack, 'providerSecrets')) {
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
