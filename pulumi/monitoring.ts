import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { METRICS_NAMESPACE } from './service';

export interface MonitoringArgs {
  region: string;
  usEast1: aws.Provider;
  alarmEmail?: string;
  albArnSuffix: pulumi.Input<string>;
  targetGroupArnSuffix: pulumi.Input<string>;
  clusterName: pulumi.Input<string>;
  serviceName: pulumi.Input<string>;
  metricsService: string;
  webAclName: pulumi.Input<string>;
  distributionId: pulumi.Input<string>;
  /** ECS cluster ARN: EventBridge rules match task and deployment events on it. */
  clusterArn: pulumi.Input<string>;
  serviceArn: pulumi.Input<string>;
  dbClusterIdentifier: pulumi.Input<string>;
  dbMaxCapacity: number;
  /** Absent when the stack runs without a cache cluster. */
  cache?: { name: pulumi.Input<string>; maxStorageGb: number; maxEcpuPerSecond: number };
  ttftP99ThresholdMs: number;
  errorRateThresholdPercent: number;
  wafBlockedThreshold: number;
  dbConnectionsThreshold: number;
  monthlyBudgetUsd: number;
  tags: Record<string, string>;
}

/** Share of a configured ceiling (ACUs, cache storage, ECPU/s) that raises an alarm. */
export const CEILING_ALARM_RATIO = 0.9;

type Dimensions = Record<string, pulumi.Input<string>>;

/**
 * Alarms, their SNS topics and the dashboard. CloudFront and WAF publish metrics only in
 * us-east-1, and an alarm can only notify a topic in its own region, so those alarms get
 * a second topic there.
 */
export class Monitoring extends pulumi.ComponentResource {
  readonly dashboardName: pulumi.Output<string>;
  readonly dashboardUrl: pulumi.Output<string>;
  readonly alarmTopicArn: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:monitoring:Monitoring', name, {}, opts);
    const parent = { parent: this };
    const inUsEast1 = { parent: this, provider: args.usEast1 };

    // CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, so the
    // topics use SNS's default (no customer key); alarm payloads carry no secrets.
    const topic = new aws.sns.Topic(`${name}-alarms`, { tags: args.tags }, parent);
    // EventBridge (deployment failures, Spot interruptions) and AWS Budgets publish here too.
    new aws.sns.TopicPolicy(
      `${name}-alarms`,
      {
        arn: topic.arn,
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'EventsAndBudgetsPublish',
              Effect: 'Allow',
              Principal: { Service: ['events.amazonaws.com', 'budgets.amazonaws.com'] },
              Action: 'sns:Publish',
              Resource: topic.arn,
            },
          ],
        }),
      },
      parent,
    );
    const edgeTopic = new aws.sns.Topic(`${name}-edge-alarms`, { tags: args.tags }, inUsEast1);
    if (args.alarmEmail) {
      new aws.sns.TopicSubscription(
        `${name}-alarms-email`,
        { topic: topic.arn, protocol: 'email', endpoint: args.alarmEmail },
        parent,
      );
      new aws.sns.TopicSubscription(
        `${name}-edge-alarms-email`,
        { topic: edgeTopic.arn, protocol: 'email', endpoint: args.alarmEmail },
        inUsEast1,
      );
    }

    const alarm = (
      part: string,
      spec: Omit<aws.cloudwatch.MetricAlarmArgs, 'alarmActions' | 'okActions' | 'tags'>,
      edge = false,
    ) => {
      const target = edge ? edgeTopic : topic;
      return new aws.cloudwatch.MetricAlarm(
        `${name}-${part}`,
        {
          treatMissingData: 'notBreaching',
          ...spec,
          actionsEnabled: true,
          alarmActions: [target.arn],
          okActions: [target.arn],
          tags: args.tags,
        },
        edge ? inUsEast1 : parent,
      );
    };
    const alb: Dimensions = { LoadBalancer: args.albArnSuffix };
    const targets: Dimensions = {
      LoadBalancer: args.albArnSuffix,
      TargetGroup: args.targetGroupArnSuffix,
    };
    const ecs: Dimensions = { ClusterName: args.clusterName, ServiceName: args.serviceName };
    const app: Dimensions = { Service: args.metricsService };

    alarm('alb-5xx', {
      alarmDescription: 'ALB itself returns 5XX (no healthy target, timeouts)',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HTTPCode_ELB_5XX_Count',
      dimensions: alb,
      statistic: 'Sum',
      period: 60,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      threshold: 10,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('target-5xx', {
      alarmDescription: 'Gateway tasks answer 5XX',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HTTPCode_Target_5XX_Count',
      dimensions: targets,
      statistic: 'Sum',
      period: 60,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      threshold: 10,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('alb-4xx', {
      alarmDescription: 'ALB itself returns many 4XX (malformed requests, header limits)',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HTTPCode_ELB_4XX_Count',
      dimensions: alb,
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 2,
      threshold: 100,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('alb-rejected-connections', {
      alarmDescription: 'ALB rejects connections (its connection limit is reached)',
      namespace: 'AWS/ApplicationELB',
      metricName: 'RejectedConnectionCount',
      dimensions: alb,
      statistic: 'Sum',
      period: 60,
      evaluationPeriods: 3,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('unhealthy-hosts', {
      alarmDescription: 'A gateway task fails /ready',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      dimensions: targets,
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 3,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
    });
    // ALB metrics exist with or without Container Insights (off in the lean profile).
    alarm('no-healthy-tasks', {
      alarmDescription: 'No gateway task can take traffic',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HealthyHostCount',
      dimensions: targets,
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 2,
      threshold: 1,
      comparisonOperator: 'LessThanThreshold',
      // No data means no target is registered: that is the outage this alarm exists for.
      treatMissingData: 'breaching',
    });
    alarm('cpu-high', {
      alarmDescription: 'Service CPU stays high (autoscaling at max or too slow)',
      namespace: 'AWS/ECS',
      metricName: 'CPUUtilization',
      dimensions: ecs,
      statistic: 'Average',
      period: 60,
      evaluationPeriods: 10,
      threshold: 85,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('memory-high', {
      alarmDescription: 'Service memory stays high',
      namespace: 'AWS/ECS',
      metricName: 'MemoryUtilization',
      dimensions: ecs,
      statistic: 'Average',
      period: 60,
      evaluationPeriods: 10,
      threshold: 85,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('ttft-p99', {
      alarmDescription: `Time to first token p99 above ${args.ttftP99ThresholdMs} ms`,
      namespace: METRICS_NAMESPACE,
      metricName: 'TimeToFirstTokenMs',
      dimensions: app,
      extendedStatistic: 'p99',
      period: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: args.ttftP99ThresholdMs,
      comparisonOperator: 'GreaterThanThreshold',
    });
    // /ready stays 200 through a database or cache outage (the ALB must not pull every task
    // at once); each task publishes how many of its dependencies are down instead.
    alarm('dependencies-down', {
      alarmDescription: 'A task reports its database or cache unreachable (see /ready details)',
      namespace: METRICS_NAMESPACE,
      metricName: 'DependenciesDown',
      dimensions: app,
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('error-rate', {
      alarmDescription: `Gateway error rate above ${args.errorRateThresholdPercent}%`,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: args.errorRateThresholdPercent,
      comparisonOperator: 'GreaterThanThreshold',
      metricQueries: [
        {
          id: 'errors',
          metric: {
            namespace: METRICS_NAMESPACE,
            metricName: 'Errors',
            dimensions: app,
            stat: 'Sum',
            period: 300,
          },
        },
        {
          id: 'requests',
          metric: {
            namespace: METRICS_NAMESPACE,
            metricName: 'Requests',
            dimensions: app,
            stat: 'Sum',
            period: 300,
          },
        },
        {
          id: 'rate',
          expression: 'IF(requests > 0, 100 * errors / requests, 0)',
          label: 'error %',
          returnData: true,
        },
      ],
    });
    alarm('db-cpu', {
      alarmDescription: 'Aurora CPU high',
      namespace: 'AWS/RDS',
      metricName: 'CPUUtilization',
      dimensions: { DBClusterIdentifier: args.dbClusterIdentifier },
      statistic: 'Average',
      period: 300,
      evaluationPeriods: 3,
      threshold: 80,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('db-connections', {
      alarmDescription: 'Aurora connections near the limit',
      namespace: 'AWS/RDS',
      metricName: 'DatabaseConnections',
      dimensions: { DBClusterIdentifier: args.dbClusterIdentifier },
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 2,
      threshold: args.dbConnectionsThreshold,
      comparisonOperator: 'GreaterThanThreshold',
    });
    alarm('db-acu-at-max', {
      alarmDescription: `Aurora runs at ${CEILING_ALARM_RATIO * 100}% of its ${args.dbMaxCapacity} ACU ceiling`,
      namespace: 'AWS/RDS',
      metricName: 'ServerlessDatabaseCapacity',
      dimensions: { DBClusterIdentifier: args.dbClusterIdentifier },
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 3,
      threshold: args.dbMaxCapacity * CEILING_ALARM_RATIO,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    if (args.cache) {
      const cache = { clusterId: args.cache.name };
      alarm('cache-throttled', {
        alarmDescription: 'ElastiCache throttles commands (rate limits and budget holds degrade)',
        namespace: 'AWS/ElastiCache',
        metricName: 'ThrottledCmds',
        dimensions: cache,
        statistic: 'Sum',
        period: 60,
        evaluationPeriods: 3,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
      });
      alarm('cache-storage-at-limit', {
        alarmDescription: `Valkey data near its ${args.cache.maxStorageGb} GB limit`,
        namespace: 'AWS/ElastiCache',
        metricName: 'BytesUsedForCache',
        dimensions: cache,
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 2,
        threshold: args.cache.maxStorageGb * 1024 ** 3 * CEILING_ALARM_RATIO,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      alarm('cache-ecpu-at-limit', {
        alarmDescription: `Valkey ECPUs near the ${args.cache.maxEcpuPerSecond}/s limit`,
        namespace: 'AWS/ElastiCache',
        metricName: 'ElastiCacheProcessingUnits',
        dimensions: cache,
        statistic: 'Sum',
        period: 60,
        evaluationPeriods: 3,
        threshold: args.cache.maxEcpuPerSecond * 60 * CEILING_ALARM_RATIO,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }

    // ECS events: failed deployments (circuit breaker) and Spot interruption notices.
    const eventRule = (part: string, description: string, pattern: Record<string, unknown>) => {
      const rule = new aws.cloudwatch.EventRule(
        `${name}-${part}`,
        { description, eventPattern: pulumi.jsonStringify(pattern), tags: args.tags },
        parent,
      );
      new aws.cloudwatch.EventTarget(
        `${name}-${part}`,
        { rule: rule.name, arn: topic.arn },
        parent,
      );
    };
    eventRule('deployment-failed', 'ECS deployment of the gateway failed (rolled back)', {
      source: ['aws.ecs'],
      'detail-type': ['ECS Deployment State Change'],
      resources: [args.serviceArn],
      detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] },
    });
    eventRule('spot-interruption', 'A Fargate Spot task of the gateway is being reclaimed', {
      source: ['aws.ecs'],
      'detail-type': ['ECS Task State Change'],
      detail: {
        clusterArn: [args.clusterArn],
        stopCode: ['SpotInterruption'],
      },
    });

    // AWS Budgets: account-wide (cost allocation tags need activating before a filter by
    // them sees any cost); 80% of actual and 100% of forecast notify the alarm topic.
    new aws.budgets.Budget(
      `${name}-monthly`,
      {
        name: `${name}-monthly`,
        budgetType: 'COST',
        limitAmount: args.monthlyBudgetUsd.toFixed(2),
        limitUnit: 'USD',
        timeUnit: 'MONTHLY',
        notifications: [
          { threshold: 80, notificationType: 'ACTUAL' },
          { threshold: 100, notificationType: 'FORECASTED' },
        ].map((n) => ({
          ...n,
          comparisonOperator: 'GREATER_THAN',
          thresholdType: 'PERCENTAGE',
          subscriberSnsTopicArns: [topic.arn],
          subscriberEmailAddresses: args.alarmEmail ? [args.alarmEmail] : undefined,
        })),
        tags: args.tags,
      },
      parent,
    );
    alarm(
      'waf-blocked',
      {
        alarmDescription: 'WAF blocks spike (attack, or a rule hurting real users)',
        namespace: 'AWS/WAFV2',
        metricName: 'BlockedRequests',
        dimensions: { WebACL: args.webAclName, Rule: 'ALL' },
        statistic: 'Sum',
        period: 300,
        evaluationPeriods: 1,
        threshold: args.wafBlockedThreshold,
        comparisonOperator: 'GreaterThanThreshold',
      },
      true,
    );
    alarm(
      'cloudfront-5xx',
      {
        alarmDescription: 'CloudFront 5XX rate above 5%',
        namespace: 'AWS/CloudFront',
        metricName: '5xxErrorRate',
        dimensions: { DistributionId: args.distributionId, Region: 'Global' },
        statistic: 'Average',
        period: 300,
        evaluationPeriods: 2,
        threshold: 5,
        comparisonOperator: 'GreaterThanThreshold',
      },
      true,
    );

    const dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        dashboardName: `${name}-switchboard`,
        dashboardBody: pulumi
          .all([
            args.albArnSuffix,
            args.targetGroupArnSuffix,
            args.clusterName,
            args.serviceName,
            args.webAclName,
            args.distributionId,
            args.dbClusterIdentifier,
            args.cache?.name ?? '',
          ])
          .apply(([lb, tg, cluster, service, acl, distribution, db, cache]) =>
            JSON.stringify(
              dashboardBody({
                region: args.region,
                lb,
                tg,
                cluster,
                service,
                app: args.metricsService,
                acl,
                distribution,
                db,
                cache: cache === '' ? undefined : cache,
              }),
            ),
          ),
      },
      parent,
    );

    this.dashboardName = dashboard.dashboardName;
    this.dashboardUrl = pulumi.interpolate`https://${args.region}.console.aws.amazon.com/cloudwatch/home?region=${args.region}#dashboards:name=${dashboard.dashboardName}`;
    this.alarmTopicArn = topic.arn;
    this.registerOutputs({ dashboardUrl: this.dashboardUrl, alarmTopicArn: this.alarmTopicArn });
  }
}

interface DashboardNames {
  region: string;
  lb: string;
  tg: string;
  cluster: string;
  service: string;
  app: string;
  acl: string;
  distribution: string;
  db: string;
  cache?: string;
}

function dashboardBody(n: DashboardNames) {
  const widget = (title: string, metrics: unknown[][], extra: Record<string, unknown> = {}) => ({
    type: 'metric',
    width: 8,
    height: 6,
    properties: { title, region: n.region, period: 60, view: 'timeSeries', metrics, ...extra },
  });
  const ns = METRICS_NAMESPACE;
  return {
    widgets: [
      widget('Active streams (sum over tasks)', [
        [ns, 'ActiveStreams', 'Service', n.app, { stat: 'Sum' }],
      ]),
      widget('Tokens out / min', [[ns, 'TokensOut', 'Service', n.app, { stat: 'Sum' }]]),
      widget('Cost / min (USD)', [
        [ns, 'CostMicros', 'Service', n.app, { stat: 'Sum', id: 'micros', visible: false }],
        [{ expression: 'micros / 1000000', label: 'USD', id: 'usd' }],
      ]),
      widget('Time to first token (ms)', [
        [ns, 'TimeToFirstTokenMs', 'Service', n.app, { stat: 'p50' }],
        ['...', { stat: 'p95' }],
        ['...', { stat: 'p99' }],
      ]),
      widget('Dependencies down (max over tasks)', [
        [ns, 'DependenciesDown', 'Service', n.app, { stat: 'Maximum' }],
      ]),
      widget('Requests and errors', [
        [ns, 'Requests', 'Service', n.app, { stat: 'Sum' }],
        [ns, 'Errors', 'Service', n.app, { stat: 'Sum' }],
      ]),
      widget('ALB 5XX', [
        ['AWS/ApplicationELB', 'HTTPCode_ELB_5XX_Count', 'LoadBalancer', n.lb, { stat: 'Sum' }],
        [
          'AWS/ApplicationELB',
          'HTTPCode_Target_5XX_Count',
          'LoadBalancer',
          n.lb,
          'TargetGroup',
          n.tg,
          { stat: 'Sum' },
        ],
        [
          'AWS/ApplicationELB',
          'UnHealthyHostCount',
          'LoadBalancer',
          n.lb,
          'TargetGroup',
          n.tg,
          { stat: 'Maximum' },
        ],
      ]),
      widget('Tasks', [
        [
          'ECS/ContainerInsights',
          'RunningTaskCount',
          'ClusterName',
          n.cluster,
          'ServiceName',
          n.service,
          { stat: 'Minimum' },
        ],
        [
          'ECS/ContainerInsights',
          'DesiredTaskCount',
          'ClusterName',
          n.cluster,
          'ServiceName',
          n.service,
          { stat: 'Maximum' },
        ],
      ]),
      widget('CPU / memory %', [
        ['AWS/ECS', 'CPUUtilization', 'ClusterName', n.cluster, 'ServiceName', n.service],
        ['AWS/ECS', 'MemoryUtilization', 'ClusterName', n.cluster, 'ServiceName', n.service],
      ]),
      widget('Database', [
        ['AWS/RDS', 'CPUUtilization', 'DBClusterIdentifier', n.db],
        ['AWS/RDS', 'DatabaseConnections', 'DBClusterIdentifier', n.db, { yAxis: 'right' }],
        ['AWS/RDS', 'ServerlessDatabaseCapacity', 'DBClusterIdentifier', n.db],
      ]),
      ...(n.cache
        ? [
            widget('Cache', [
              ['AWS/ElastiCache', 'ThrottledCmds', 'clusterId', n.cache, { stat: 'Sum' }],
              [
                'AWS/ElastiCache',
                'ElastiCacheProcessingUnits',
                'clusterId',
                n.cache,
                { stat: 'Sum', yAxis: 'right' },
              ],
            ]),
          ]
        : []),
      widget(
        'WAF blocked',
        [['AWS/WAFV2', 'BlockedRequests', 'WebACL', n.acl, 'Rule', 'ALL', { stat: 'Sum' }]],
        {
          region: 'us-east-1',
        },
      ),
      widget(
        'CloudFront',
        [
          [
            'AWS/CloudFront',
            'Requests',
            'DistributionId',
            n.distribution,
            'Region',
            'Global',
            { stat: 'Sum' },
          ],
          [
            'AWS/CloudFront',
            '5xxErrorRate',
            'DistributionId',
            n.distribution,
            'Region',
            'Global',
            { yAxis: 'right' },
          ],
        ],
        { region: 'us-east-1' },
      ),
    ],
  };
}
