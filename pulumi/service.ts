import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { CapacityStrategyItem } from './config';

export interface ServiceArgs {
  region: string;
  privateSubnetIds: pulumi.Input<string>[];
  taskSecurityGroupId: pulumi.Input<string>;
  targetGroupArn: pulumi.Input<string>;
  /** The service must not start before the target group is attached to a listener. */
  listener: pulumi.Resource;
  repositoryUrl: pulumi.Input<string>;
  imageTag: string;
  containerPort: number;
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
  redisUrl: pulumi.Input<string>;
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
/** ECS sends SIGKILL this long after SIGTERM; equals the Fargate Spot reclaim notice. */
export const STOP_TIMEOUT_SECONDS = 120;
/** The `node` user of the official Node image; numeric so ECS needs no passwd lookup. */
export const CONTAINER_USER = '1000:1000';
export const METRICS_NAMESPACE = 'Switchboard';

interface KeyValue {
  name: string;
  value: pulumi.Input<string>;
}

/**
 * ECS cluster (Fargate + Fargate Spot), the gateway task and service, its secrets,
 * roles, log group and autoscaling on CPU, memory and open streams per task.
 */
export class Service extends pulumi.ComponentResource {
  readonly clusterName: pulumi.Output<string>;
  readonly serviceName: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly adminKeySecretArn: pulumi.Output<string>;
  readonly providerSecretNames: pulumi.Output<string>[];

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:service:Service', name, {}, opts);
    const parent = { parent: this };

    const cluster = new aws.ecs.Cluster(
      `${name}-cluster`,
      { settings: [{ name: 'containerInsights', value: 'enhanced' }], tags: args.tags },
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
    // The bootstrap admin key is generated once; later previews produce a new random
    // value that ignoreChanges discards.
    const adminKey = new aws.secretsmanager.Secret(
      `${name}-admin-api-key`,
      {
        name: `${name}/ADMIN_API_KEY`,
        description: 'Switchboard bootstrap admin API key',
        recoveryWindowInDays: args.secretRecoveryDays,
        tags: args.tags,
      },
      parent,
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-admin-api-key`,
      {
        secretId: adminKey.id,
        secretString: pulumi.secret(
          aws.secretsmanager.getRandomPasswordOutput(
            { passwordLength: 48, excludePunctuation: true },
            parent,
          ).randomPassword,
        ),
      },
      { parent: this, ignoreChanges: ['secretString'] },
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
    const taskRole = new aws.iam.Role(
      `${name}-task`,
      { assumeRolePolicy: assumeEcsTasks, tags: args.tags },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-task`,
      {
        role: taskRole.id,
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: args.bucketArn },
            {
              Effect: 'Allow',
              Action: [
                's3:GetObject',
                's3:PutObject',
                's3:DeleteObject',
                's3:AbortMultipartUpload',
              ],
              Resource: pulumi.interpolate`${args.bucketArn}/*`,
            },
            {
              Effect: 'Allow',
              Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
              Resource: [
                'arn:aws:bedrock:*::foundation-model/*',
                'arn:aws:bedrock:*:*:inference-profile/*',
              ],
            },
          ],
        }),
      },
      parent,
    );

    // --- task definition -------------------------------------------------------------
    const environment: KeyValue[] = [
      { name: 'NODE_ENV', value: 'production' },
      { name: 'PORT', value: String(args.containerPort) },
      { name: 'HOST', value: '0.0.0.0' },
      // The root filesystem is read-only; /tmp is the task's only writable path.
      { name: 'DATA_DIR', value: '/tmp/switchboard' },
      { name: 'AWS_REGION', value: args.region },
      { name: 'REDIS_URL', value: args.redisUrl },
      { name: 'BLOB_STORE', value: pulumi.interpolate`s3://${args.bucketName}/uploads` },
      { name: 'SHUTDOWN_DRAIN_SECONDS', value: String(args.shutdownDrainSeconds) },
      { name: 'EMF_METRICS', value: 'true' },
      // The gateway's EMF `Service` dimension: autoscaling and alarms select on it.
      { name: 'SERVICE_NAME', value: args.metricsService },
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
        mountPoints: [{ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false }],
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
    ]);
    const taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task`,
      {
        family: name,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: String(args.cpu),
        memory: String(args.memory),
        runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
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
          subnets: args.privateSubnetIds,
          securityGroups: [args.taskSecurityGroupId],
          assignPublicIp: false,
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
    this.serviceName = service.name;
    this.logGroupName = logGroup.name;
    this.adminKeySecretArn = adminKey.arn;
    this.providerSecretNames = providerSecrets.map(([, secret]) => secret.name);
    this.registerOutputs({
      clusterName: this.clusterName,
      serviceName: this.serviceName,
      logGroupName: this.logGroupName,
    });
  }
}
