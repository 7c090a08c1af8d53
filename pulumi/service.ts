import * as fs from 'node:fs';
import * as path from 'node:path';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import {
  CapacityStrategyItem,
  ContainerInsights,
  CpuArchitecture,
  STOP_TIMEOUT_SECONDS,
} from './config';

export interface ServiceArgs {
  region: string;
  /** Where tasks run; with assignPublicIp these are public subnets (no NAT). */
  subnetIds: pulumi.Input<string>[];
  assignPublicIp: boolean;
  taskSecurityGroupId: pulumi.Input<string>;
  targetGroupArn: pulumi.Input<string>;
  /** The service must not start before the target group is attached to a listener. */
  listener: pulumi.Resource;
  repositoryUrl: pulumi.Input<string>;
  imageTag: string;
  containerPort: number;
  /** METRICS_PORT: Prometheus /metrics, not mapped to any load balancer. */
  metricsPort: number;
  cpuArchitecture: CpuArchitecture;
  containerInsights: ContainerInsights;
  /** an ADOT collector sidecar receives the gateway's OTLP traces and exports them to X-Ray */
  tracesEnabled: boolean;
  cpu: number;
  memory: number;
  minTasks: number;
  maxTasks: number;
  capacityStrategy: CapacityStrategyItem[];
  cpuTargetPercent: number;
  memoryTargetPercent: number;
  streamsPerTaskTarget: number;
  healthCheckGraceSeconds: number;
  shutdownDrainSeconds: number;
  logRetentionDays: number;
  /** Value of the EMF `Service` dimension the gateway publishes. */
  metricsService: string;
  databaseUrlSecretArn: pulumi.Input<string>;
  /** Unset when the stack runs without a cache cluster (single task, in-process limits). */
  redisUrl?: pulumi.Input<string>;
  bucketName: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  /** Environment variable names whose values live in Secrets Manager (set out of band). */
  providerSecrets: string[];
  appEnvironment: Record<string, string>;
  /** Days a deleted secret stays recoverable; 0 lets a throwaway stack be recreated at once. */
  secretRecoveryDays: number;
  tags: Record<string, string>;
}

export const CONTAINER_NAME = 'gateway';
export { STOP_TIMEOUT_SECONDS };
/** The `node` user of the official Node image; numeric so ECS needs no passwd lookup. */
export const CONTAINER_USER = '1000:1000';
export const METRICS_NAMESPACE = 'Switchboard';
/** The task's only writable path (a task volume; the image declares it as VOLUME). */
export const WRITABLE_PATH = '/tmp';
/** DATA_DIR inside it; the image creates it owned by the runtime user. */
export const DATA_DIR = `${WRITABLE_PATH}/switchboard`;

/** AWS Distro for OpenTelemetry collector, pinned; its bundled config receives OTLP, exports to X-Ray. */
export const OTEL_COLLECTOR_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3';
export const OTEL_COLLECTOR_NAME = 'otel-collector';
/** OTLP/HTTP on the task's loopback (containers of a task share its network namespace) */
const OTLP_HTTP_ENDPOINT = 'http://127.0.0.1:4318';

/** The collector sidecar: not essential (losing traces must not stop the gateway), hardened like it. */
function collectorContainer(logGroup: pulumi.Input<string>, region: string) {
  return {
    name: OTEL_COLLECTOR_NAME,
    image: OTEL_COLLECTOR_IMAGE,
    essential: false,
    command: ['--config=/etc/ecs/ecs-xray.yaml'],
    // the image's own non-root user (aoc, 10001)
    user: '10001',
    readonlyRootFilesystem: true,
    cpu: 64,
    memoryReservation: 64,
    logConfiguration: {
      logDriver: 'awslogs',
      options: {
        'awslogs-group': logGroup,
        'awslogs-region': region,
        'awslogs-stream-prefix': OTEL_COLLECTOR_NAME,
        mode: 'non-blocking',
      },
    },
  };
}

/** X-Ray write actions: X-Ray has no resource-level permissions, so "*" is the only resource. */
const XRAY_STATEMENT = {
  Effect: 'Allow',
  Action: [
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
  ],
  Resource: '*',
};

interface KeyValue {
  name: string;
  value: pulumi.Input<string>;
}

/** Geography prefixes of Bedrock cross-region inference profile ids (`us.anthropic...`). */
const INFERENCE_PROFILE_PREFIX = /^(us|eu|apac|us-gov|global|jp|au|ca)\./;
const CATALOGUE = path.resolve(
  __dirname,
  '..',
  'libs',
  'llm',
  'src',
  'catalogue',
  'models.default.json',
);

/** Upstream model ids of the catalogue's Bedrock entries. */
export function bedrockModelIds(cataloguePath = CATALOGUE): string[] {
  const raw = JSON.parse(fs.readFileSync(cataloguePath, 'utf8')) as
    | { models?: { provider?: string; upstreamModel?: string }[] }
    | { provider?: string; upstreamModel?: string }[];
  const models = Array.isArray(raw) ? raw : (raw.models ?? []);
  return [
    ...new Set(
      models
        .filter((m) => m.provider === 'bedrock' && typeof m.upstreamModel === 'string')
        .map((m) => m.upstreamModel as string),
    ),
  ].sort();
}

/**
 * IAM statements allowing exactly the catalogue's Bedrock models: foundation models in the
 * stack's region, inference profiles in the stack's region and account, and the foundation
 * models behind those profiles in whichever region the profile routes to, but only when
 * called through one of these profiles.
 */
export function bedrockStatements(region: string, account: string, modelIds: string[]) {
  const actions = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];
  const direct = modelIds.filter((id) => !INFERENCE_PROFILE_PREFIX.test(id));
  const profiles = modelIds.filter((id) => INFERENCE_PROFILE_PREFIX.test(id));
  const statements: Record<string, unknown>[] = [];
  if (direct.length > 0) {
    statements.push({
      Sid: 'BedrockFoundationModels',
      Effect: 'Allow',
      Action: actions,
      Resource: direct.map((id) => `arn:aws:bedrock:${region}::foundation-model/${id}`),
    });
  }
  if (profiles.length > 0) {
    const profileArns = profiles.map(
      (id) => `arn:aws:bedrock:${region}:${account}:inference-profile/${id}`,
    );
    statements.push(
      { Sid: 'BedrockInferenceProfiles', Effect: 'Allow', Action: actions, Resource: profileArns },
      {
        Sid: 'BedrockModelsBehindProfiles',
        Effect: 'Allow',
        Action: actions,
        Resource: [
          ...new Set(
            profiles.map(
              (id) =>
                `arn:aws:bedrock:*::foundation-model/${id.replace(INFERENCE_PROFILE_PREFIX, '')}`,
            ),
          ),
        ],
        Condition: { StringLike: { 'bedrock:InferenceProfileArn': profileArns } },
      },
    );
  }
  return statements;
}

/**
 * ECS cluster (Fargate + Fargate Spot), the gateway task and service, its secrets,
 * roles, log group and autoscaling on CPU, memory and open streams per task.
 */
export class Service extends pulumi.ComponentResource {
  readonly clusterName: pulumi.Output<string>;
  readonly clusterArn: pulumi.Output<string>;
  readonly serviceName: pulumi.Output<string>;
  readonly serviceArn: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly adminKeySecretArn: pulumi.Output<string>;
  readonly apiKeySecretArn: pulumi.Output<string>;
  readonly providerSecretNames: pulumi.Output<string>[];

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:service:Service', name, {}, opts);
    const parent = { parent: this };

    const cluster = new aws.ecs.Cluster(
      `${name}-cluster`,
      { settings: [{ name: 'containerInsights', value: args.containerInsights }], tags: args.tags },
      parent,
    );
    const capacityProviders = new aws.ecs.ClusterCapacityProviders(
      `${name}-capacity`,
      {
        clusterName: cluster.name,
        capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
        defaultCapacityProviderStrategies: args.capacityStrategy,
      },
      parent,
    );

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: `/switchboard/${name}`, retentionInDays: args.logRetentionDays, tags: args.tags },
      parent,
    );

    // --- secrets ---------------------------------------------------------------
    // Generated once by Pulumi resources (stable across runs, encrypted in state):
    //  - ADMIN_API_KEY, the bootstrap admin key;
    //  - API_KEY_SECRET, the HMAC key of API key hashes. Every task must share it, or a key
    //    created on one task is unknown to the others and to every task after a deploy.
    const generatedSecret = (envName: string, description: string, length: number) => {
      const part = envName.toLowerCase().replace(/_/g, '-');
      const secret = new aws.secretsmanager.Secret(
        `${name}-${part}`,
        {
          name: `${name}/${envName}`,
          description,
          recoveryWindowInDays: args.secretRecoveryDays,
          tags: args.tags,
        },
        parent,
      );
      const value = new random.RandomPassword(
        `${name}-${part}`,
        { length, special: false },
        parent,
      );
      new aws.secretsmanager.SecretVersion(
        `${name}-${part}`,
        { secretId: secret.id, secretString: value.result },
        parent,
      );
      return secret;
    };
    const adminKey = generatedSecret('ADMIN_API_KEY', 'Switchboard bootstrap admin API key', 48);
    const apiKeySecret = generatedSecret(
      'API_KEY_SECRET',
      'Switchboard HMAC secret for API key hashes (shared by every task)',
      64,
    );
    // Provider keys never pass through Pulumi state: operators put the value with
    // `aws secretsmanager put-secret-value --secret-id <name>` before the first deploy.
    const providerSecrets = args.providerSecrets.map(
      (envName) =>
        [
          envName,
          new aws.secretsmanager.Secret(
            `${name}-${envName.toLowerCase().replace(/_/g, '-')}`,
            {
              name: `${name}/${envName}`,
              description: `Switchboard ${envName}`,
              recoveryWindowInDays: args.secretRecoveryDays,
              tags: args.tags,
            },
            parent,
          ),
        ] as const,
    );
    const secretRefs: { name: string; valueFrom: pulumi.Input<string> }[] = [
      { name: 'ADMIN_API_KEY', valueFrom: adminKey.arn },
      { name: 'API_KEY_SECRET', valueFrom: apiKeySecret.arn },
      { name: 'DATABASE_URL', valueFrom: args.databaseUrlSecretArn },
      ...providerSecrets.map(([envName, secret]) => ({ name: envName, valueFrom: secret.arn })),
    ];

    // --- roles -------------------------------------------------------------------
    const assumeEcsTasks = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    const executionRole = new aws.iam.Role(
      `${name}-execution`,
      { assumeRolePolicy: assumeEcsTasks, tags: args.tags },
      parent,
    );
    new aws.iam.RolePolicyAttachment(
      `${name}-execution`,
      {
        role: executionRole.name,
        policyArn: 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy',
      },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-execution-secrets`,
      {
        role: executionRole.id,
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'secretsmanager:GetSecretValue',
              Resource: secretRefs.map((s) => s.valueFrom),
            },
          ],
        }),
      },
      parent,
    );
    const account = aws.getCallerIdentityOutput({}, parent).accountId;
    const bedrock = account.apply((id) => bedrockStatements(args.region, id, bedrockModelIds()));
    const taskRole = new aws.iam.Role(
      `${name}-task`,
      { assumeRolePolicy: assumeEcsTasks, tags: args.tags },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-task`,
      {
        role: taskRole.id,
        policy: pulumi.all([args.bucketArn, bedrock]).apply(([bucketArn, bedrockStatements]) =>
          JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn },
              {
                Effect: 'Allow',
                Action: [
                  's3:GetObject',
                  's3:PutObject',
                  's3:DeleteObject',
                  's3:AbortMultipartUpload',
                ],
                Resource: `${bucketArn}/*`,
              },
              ...bedrockStatements,
              ...(args.tracesEnabled ? [XRAY_STATEMENT] : []),
            ],
          }),
        ),
      },
      parent,
    );

    // --- task definition -------------------------------------------------------------
    const environment: KeyValue[] = [
      { name: 'NODE_ENV', value: 'production' },
      { name: 'PORT', value: String(args.containerPort) },
      { name: 'METRICS_PORT', value: String(args.metricsPort) },
      { name: 'HOST', value: '0.0.0.0' },
      // The root filesystem is read-only; /tmp is the task's only writable path.
      { name: 'DATA_DIR', value: DATA_DIR },
      { name: 'AWS_REGION', value: args.region },
      ...(args.redisUrl ? [{ name: 'REDIS_URL', value: args.redisUrl }] : []),
      { name: 'BLOB_STORE', value: pulumi.interpolate`s3://${args.bucketName}/uploads` },
      { name: 'SHUTDOWN_DRAIN_SECONDS', value: String(args.shutdownDrainSeconds) },
      { name: 'EMF_METRICS', value: 'true' },
      // The gateway's EMF `Service` dimension: autoscaling and alarms select on it.
      { name: 'SERVICE_NAME', value: args.metricsService },
      ...(args.tracesEnabled
        ? [
            { name: 'OTEL_TRACES_ENABLED', value: 'true' },
            { name: 'OTEL_SERVICE_NAME', value: args.metricsService },
            { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: OTLP_HTTP_ENDPOINT },
          ]
        : []),
      ...Object.entries(args.appEnvironment).map(([key, value]) => ({ name: key, value })),
    ];
    const healthProbe =
      `fetch('http://127.0.0.1:${args.containerPort}/health')` +
      '.then(r=>process.exit(r.ok?0:1),()=>process.exit(1))';
    const containerDefinitions = pulumi.jsonStringify([
      {
        name: CONTAINER_NAME,
        image: pulumi.interpolate`${args.repositoryUrl}:${args.imageTag}`,
        essential: true,
        user: CONTAINER_USER,
        readonlyRootFilesystem: true,
        portMappings: [{ containerPort: args.containerPort, protocol: 'tcp', name: 'http' }],
        environment,
        secrets: secretRefs,
        mountPoints: [{ sourceVolume: 'tmp', containerPath: WRITABLE_PATH, readOnly: false }],
        // tini-style PID 1: forwards SIGTERM to node and reaps children.
        linuxParameters: { initProcessEnabled: true },
        stopTimeout: STOP_TIMEOUT_SECONDS,
        // Thousands of concurrent streams need thousands of sockets.
        ulimits: [{ name: 'nofile', softLimit: 65536, hardLimit: 65536 }],
        healthCheck: {
          command: ['CMD', 'node', '-e', healthProbe],
          interval: 15,
          timeout: 5,
          retries: 3,
          startPeriod: 30,
        },
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-group': logGroup.name,
            'awslogs-region': args.region,
            'awslogs-stream-prefix': CONTAINER_NAME,
            // A slow log pipe must never block the event loop that serves streams.
            mode: 'non-blocking',
            'max-buffer-size': '25m',
          },
        },
      },
      ...(args.tracesEnabled ? [collectorContainer(logGroup.name, args.region)] : []),
    ]);
    const taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task`,
      {
        family: name,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: String(args.cpu),
        memory: String(args.memory),
        runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: args.cpuArchitecture },
        executionRoleArn: executionRole.arn,
        taskRoleArn: taskRole.arn,
        volumes: [{ name: 'tmp' }],
        containerDefinitions,
        tags: args.tags,
      },
      parent,
    );

    const service = new aws.ecs.Service(
      `${name}-svc`,
      {
        cluster: cluster.arn,
        taskDefinition: taskDefinition.arn,
        desiredCount: args.minTasks,
        // A strategy, never launchType: the two are mutually exclusive in ECS.
        capacityProviderStrategies: args.capacityStrategy,
        networkConfiguration: {
          subnets: args.subnetIds,
          securityGroups: [args.taskSecurityGroupId],
          assignPublicIp: args.assignPublicIp,
        },
        loadBalancers: [
          {
            targetGroupArn: args.targetGroupArn,
            containerName: CONTAINER_NAME,
            containerPort: args.containerPort,
          },
        ],
        healthCheckGracePeriodSeconds: args.healthCheckGraceSeconds,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        deploymentMinimumHealthyPercent: 100,
        deploymentMaximumPercent: 200,
        availabilityZoneRebalancing: 'ENABLED',
        enableEcsManagedTags: true,
        propagateTags: 'SERVICE',
        // `pulumi up` fails (and the deploy script reports it) when the rollout does.
        waitForSteadyState: true,
        tags: args.tags,
      },
      // Autoscaling owns desiredCount after the first deploy.
      {
        parent: this,
        dependsOn: [capacityProviders, args.listener],
        ignoreChanges: ['desiredCount'],
      },
    );

    // --- autoscaling -------------------------------------------------------------------
    const resourceId = pulumi.interpolate`service/${cluster.name}/${service.name}`;
    const target = new aws.appautoscaling.Target(
      `${name}-scaling`,
      {
        serviceNamespace: 'ecs',
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId,
        minCapacity: args.minTasks,
        maxCapacity: args.maxTasks,
        tags: args.tags,
      },
      parent,
    );
    const trackingPolicy = (
      part: string,
      config: aws.types.input.appautoscaling.PolicyTargetTrackingScalingPolicyConfiguration,
    ) =>
      new aws.appautoscaling.Policy(
        `${name}-scale-${part}`,
        {
          policyType: 'TargetTrackingScaling',
          serviceNamespace: target.serviceNamespace,
          scalableDimension: target.scalableDimension,
          resourceId: target.resourceId,
          targetTrackingScalingPolicyConfiguration: config,
        },
        parent,
      );
    // Scale in slowly: a removed task has to drain its open streams first.
    const cooldowns = { scaleOutCooldown: 60, scaleInCooldown: 300 };
    trackingPolicy('cpu', {
      predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      targetValue: args.cpuTargetPercent,
      ...cooldowns,
    });
    trackingPolicy('memory', {
      predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageMemoryUtilization' },
      targetValue: args.memoryTargetPercent,
      ...cooldowns,
    });
    // Every task publishes its own ActiveStreams under the same dimension, so the
    // Average statistic is open streams per task.
    trackingPolicy('streams', {
      customizedMetricSpecification: {
        namespace: METRICS_NAMESPACE,
        metricName: 'ActiveStreams',
        statistic: 'Average',
        dimensions: [{ name: 'Service', value: args.metricsService }],
      },
      targetValue: args.streamsPerTaskTarget,
      ...cooldowns,
    });

    this.clusterName = cluster.name;
    this.clusterArn = cluster.arn;
    this.serviceName = service.name;
    this.serviceArn = service.arn;
    this.logGroupName = logGroup.name;
    this.adminKeySecretArn = adminKey.arn;
    this.apiKeySecretArn = apiKeySecret.arn;
    this.providerSecretNames = providerSecrets.map(([, secret]) => secret.name);
    this.registerOutputs({
      clusterName: this.clusterName,
      serviceName: this.serviceName,
      logGroupName: this.logGroupName,
    });
  }
}
