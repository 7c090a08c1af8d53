import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { dnsValidatedCertificate } from './certificate';
import { denyInsecureTransport } from './data';

export interface LoadBalancerArgs {
  vpcId: pulumi.Input<string>;
  privateSubnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  containerPort: number;
  /** Longer than the SSE heartbeat (15 s) and than a slow model's first token. */
  idleTimeoutSeconds: number;
  /**
   * Below the task's stopTimeout (SIGKILL) and above the gateway's drain: the gateway ends
   * its streams first, then the ALB drops whatever is left, then ECS kills the task.
   */
  deregistrationDelaySeconds: number;
  deletionProtection: boolean;
  /** When set, the ALB gets an ACM certificate for `origin.<domainName>` and listens on 443. */
  domain?: { name: string; hostedZoneId: string };
  tags: Record<string, string>;
}

/** The listener port the ALB uses for a given domain setting. */
export function albListenerPort(domain: LoadBalancerArgs['domain']): number {
  return domain ? 443 : 80;
}

/**
 * Internal ALB: reachable only through the CloudFront VPC origin, never from the
 * internet. Health checks hit /ready, which answers "this task can take traffic": booted
 * and not draining. A database or cache blip shows in /ready's details and in alarms, never
 * as a failing health check (that would make ECS replace every task at once).
 */
export class LoadBalancer extends pulumi.ComponentResource {
  readonly arn: pulumi.Output<string>;
  readonly arnSuffix: pulumi.Output<string>;
  readonly dnsName: pulumi.Output<string>;
  readonly targetGroupArn: pulumi.Output<string>;
  readonly targetGroupArnSuffix: pulumi.Output<string>;
  readonly listener: aws.lb.Listener;
  /** Host name CloudFront should use for the origin (certificate name when HTTPS). */
  readonly originDomainName: pulumi.Output<string>;
  readonly originProtocol: 'http-only' | 'https-only';
  readonly listenerPort: number;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:load-balancer:LoadBalancer', name, {}, opts);
    const parent = { parent: this };

    const logs = new aws.s3.Bucket(
      `${name}-access-logs`,
      { forceDestroy: !args.deletionProtection, tags: args.tags },
      parent,
    );
    new aws.s3.BucketPublicAccessBlock(
      `${name}-access-logs`,
      {
        bucket: logs.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-access-logs`,
      { bucket: logs.id, rule: { objectOwnership: 'BucketOwnerEnforced' } },
      parent,
    );
    // ALB access logs only support SSE-S3, not KMS.
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-access-logs`,
      {
        bucket: logs.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
      },
      parent,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-access-logs`,
      {
        bucket: logs.id,
        rules: [{ id: 'expire', status: 'Enabled', filter: {}, expiration: { days: 90 } }],
      },
      parent,
    );
    const account = aws.getCallerIdentityOutput({}, parent).accountId;
    // Regions launched before 2022 deliver logs from a regional ELB account; newer ones
    // from the log-delivery service principal. Granting both covers every region.
    const elbAccount = aws.elb.getServiceAccountOutput({}, parent).arn;
    const logPolicy = new aws.s3.BucketPolicy(
      `${name}-access-logs`,
      {
        bucket: logs.id,
        policy: pulumi
          .all([denyInsecureTransport(logs.arn), logs.arn, account, elbAccount])
          .apply(([deny, arn, accountId, elbArn]) => {
            const base = JSON.parse(deny) as { Version: string; Statement: unknown[] };
            const resource = `${arn}/alb/AWSLogs/${accountId}/*`;
            base.Statement.push(
              {
                Sid: 'ElbLogDelivery',
                Effect: 'Allow',
                Principal: { Service: 'logdelivery.elasticloadbalancing.amazonaws.com' },
                Action: 's3:PutObject',
                Resource: resource,
              },
              {
                Sid: 'ElbLogDeliveryLegacy',
                Effect: 'Allow',
                Principal: { AWS: elbArn },
                Action: 's3:PutObject',
                Resource: resource,
              },
            );
            return JSON.stringify(base);
          }),
      },
      parent,
    );

    const alb = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: 'application',
        internal: true,
        subnets: args.privateSubnetIds,
        securityGroups: [args.securityGroupId],
        idleTimeout: args.idleTimeoutSeconds,
        dropInvalidHeaderFields: true,
        enableDeletionProtection: args.deletionProtection,
        accessLogs: { bucket: logs.bucket, prefix: 'alb', enabled: true },
        tags: args.tags,
      },
      { parent: this, dependsOn: [logPolicy] },
    );

    const targetGroup = new aws.lb.TargetGroup(
      `${name}-tg`,
      {
        vpcId: args.vpcId,
        targetType: 'ip',
        protocol: 'HTTP',
        port: args.containerPort,
        deregistrationDelay: args.deregistrationDelaySeconds,
        // Streams are long and uneven; round robin would pile new streams onto busy tasks.
        loadBalancingAlgorithmType: 'least_outstanding_requests',
        healthCheck: {
          path: '/ready',
          matcher: '200',
          interval: 10,
          timeout: 5,
          healthyThreshold: 2,
          unhealthyThreshold: 2,
        },
        tags: args.tags,
      },
      parent,
    );

    this.listenerPort = albListenerPort(args.domain);
    let certificateArn: pulumi.Output<string> | undefined;
    if (args.domain) {
      const originName = `origin.${args.domain.name}`;
      certificateArn = dnsValidatedCertificate(
        `${name}-origin`,
        originName,
        args.domain.hostedZoneId,
        args.tags,
        parent,
      );
      // Public name resolving to the internal ALB's private addresses; it only exists so
      // the origin certificate matches the host CloudFront connects to.
      new aws.route53.Record(
        `${name}-origin`,
        {
          zoneId: args.domain.hostedZoneId,
          name: originName,
          type: 'A',
          aliases: [{ name: alb.dnsName, zoneId: alb.zoneId, evaluateTargetHealth: false }],
        },
        parent,
      );
      this.originDomainName = pulumi.output(originName);
      this.originProtocol = 'https-only';
    } else {
      this.originDomainName = alb.dnsName;
      this.originProtocol = 'http-only';
    }
    const listener = new aws.lb.Listener(
      `${name}-listener`,
      {
        loadBalancerArn: alb.arn,
        port: this.listenerPort,
        protocol: certificateArn ? 'HTTPS' : 'HTTP',
        certificateArn,
        sslPolicy: certificateArn ? 'ELBSecurityPolicy-TLS13-1-2-2021-06' : undefined,
        defaultActions: [{ type: 'forward', targetGroupArn: targetGroup.arn }],
        tags: args.tags,
      },
      parent,
    );

    this.arn = alb.arn;
    this.arnSuffix = alb.arnSuffix;
    this.dnsName = alb.dnsName;
    this.targetGroupArn = targetGroup.arn;
    this.targetGroupArnSuffix = targetGroup.arnSuffix;
    this.listener = listener;
    this.registerOutputs({ dnsName: this.dnsName, targetGroupArn: this.targetGroupArn });
  }
}
