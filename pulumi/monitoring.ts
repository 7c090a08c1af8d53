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
  dbClusterIdentifier: pulumi.Input<string>;
  cacheName: pulumi.Input<string>;
  ttftP95ThresholdMs: number;
  errorRateThresholdPercent: number;
  wafBlockedThreshold: number;
  dbConnectionsThreshold: number;
  tags: Record<string, string>;
}

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
    alarm('no-running-tasks', {
      alarmDescription: 'No gateway task is running',
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensions: ecs,
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 2,
      threshold: 1,
      comparisonOperator: 'LessThanThreshold',
      // No data means no task is reporting: that is the outage this alarm exists for.
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
    alarm('ttft-p95', {
      alarmDescription: `Time to first token p95 above ${args.ttftP95ThresholdMs} ms`,
      namespace: METRICS_NAMESPACE,
      metricName: 'TimeToFirstTokenMs',
      dimensions: app,
      extendedStatistic: 'p95',
      period: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: args.ttftP95ThresholdMs,
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
    alarm('cache-throttled', {
      alarmDescription: 'ElastiCache throttles commands (rate limits and budget holds degrade)',
      namespace: 'AWS/ElastiCache',
      metricName: 'ThrottledCmds',
      dimensions: { clusterId: args.cacheName },
      statistic: 'Sum',
      period: 60,
      evaluationPeriods: 3,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
    });
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
            args.cacheName,
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
                cache,
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
  cache: string;
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
