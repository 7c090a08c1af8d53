import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { dnsValidatedCertificate } from './certificate';

export interface EdgeArgs {
  /** Provider pinned to us-east-1: CloudFront-scoped WAF and viewer certificates live there. */
  usEast1: aws.Provider;
  vpcId: pulumi.Input<string>;
  albArn: pulumi.Input<string>;
  albSecurityGroupId: pulumi.Input<string>;
  albListenerPort: number;
  originDomainName: pulumi.Input<string>;
  originProtocol: 'http-only' | 'https-only';
  wafRateLimit: number;
  /** Tighter per-IP rate limit for /admin paths. */
  adminRateLimit: number;
  /** Addresses allowed to reach /admin; ignored when adminOpen. */
  adminAllowedCidrs: string[];
  /** /admin reachable from anywhere (dev only); otherwise only from adminAllowedCidrs. */
  adminOpen: boolean;
  logRetentionDays: number;
  priceClass: string;
  domain?: { name: string; hostedZoneId: string };
  tags: Record<string, string>;
}

/** AWS-managed CloudFront policies (IDs are fixed and documented by AWS). */
export const CACHING_DISABLED_POLICY_ID = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
export const ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
/**
 * CloudFront waits this long for the first byte and between bytes. 60 s is the default
 * quota ceiling; the gateway's 15 s heartbeat keeps long streams well inside it.
 */
const ORIGIN_READ_TIMEOUT_SECONDS = 60;
const ORIGIN_ID = 'gateway-alb';
/** Created by CloudFront in the VPC with its first VPC origin; origin traffic carries it. */
export const VPC_ORIGIN_SERVICE_SG = 'CloudFront-VPCOrigins-Service-SG';
/** Management API prefix; matched after URL-decoding, path normalisation and lower-casing. */
export const ADMIN_PATH_PREFIX = '/admin';
/** Request headers that carry credentials and must never reach the WAF logs. */
const REDACTED_HEADERS = ['authorization', 'x-api-key', 'cookie'];

function visibility(metricName: string) {
  return { cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName };
}

function managedGroup(name: string, priority: number, overrides: string[] = []) {
  return {
    name,
    priority,
    overrideAction: { none: {} },
    statement: {
      managedRuleGroupStatement: {
        vendorName: 'AWS',
        name,
        ruleActionOverrides: overrides.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
      },
    },
    visibilityConfig: visibility(name),
  };
}

/** Matches requests whose normalised path starts with /admin. */
function adminPath() {
  return {
    byteMatchStatement: {
      searchString: ADMIN_PATH_PREFIX,
      positionalConstraint: 'STARTS_WITH',
      fieldToMatch: { uriPath: {} },
      // %2F-encoding, `//admin`, `/./admin` and `/ADMIN` must not slip past the rule.
      textTransformations: [
        { priority: 0, type: 'URL_DECODE' },
        { priority: 1, type: 'NORMALIZE_PATH' },
        { priority: 2, type: 'LOWERCASE' },
      ],
    },
  };
}

/**
 * CloudFront in front of the internal ALB, reached through a VPC origin.
 *
 * Why a VPC origin rather than a secret origin header: the ALB has no public address at
 * all, so there is no header to leak or rotate and nothing to probe from the internet;
 * the ALB security group admits only CloudFront's VPC-origin service security group and the
 * origin-facing prefix list, and WAF guards every request before it reaches the origin.
 */
export class Edge extends pulumi.ComponentResource {
  readonly distributionId: pulumi.Output<string>;
  readonly distributionDomainName: pulumi.Output<string>;
  readonly webAclArn: pulumi.Output<string>;
  readonly webAclName: pulumi.Output<string>;
  readonly wafLogGroupName: pulumi.Output<string>;
  readonly accessLogGroupName: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:edge:Edge', name, {}, opts);
    const parent = { parent: this };
    const inUsEast1 = { parent: this, provider: args.usEast1 };

    // WAF metrics carry the ACL's metric name as the WebACL dimension; naming the ACL the
    // same keeps alarms and the dashboard correct whichever of the two a reader assumes.
    const aclName = `${name}-waf`;
    const adminRules: aws.types.input.wafv2.WebAclRule[] = [];
    if (!args.adminOpen) {
      // An empty allow-list is legal: /admin is then closed at the edge for everyone.
      const adminIps = new aws.wafv2.IpSet(
        `${name}-admin-ips`,
        {
          name: `${name}-admin-ips`,
          scope: 'CLOUDFRONT',
          ipAddressVersion: 'IPV4',
          addresses: args.adminAllowedCidrs,
          description: 'Addresses allowed to call /admin',
          tags: args.tags,
        },
        inUsEast1,
      );
      adminRules.push({
        name: 'admin-allow-list',
        priority: 0,
        action: { block: {} },
        statement: {
          andStatement: {
            statements: [
              adminPath(),
              { notStatement: { statement: { ipSetReferenceStatement: { arn: adminIps.arn } } } },
            ],
          },
        },
        visibilityConfig: visibility('admin-allow-list'),
      });
    }
    adminRules.push({
      name: 'admin-rate-per-ip',
      priority: 1,
      action: { block: {} },
      statement: {
        rateBasedStatement: {
          limit: args.adminRateLimit,
          aggregateKeyType: 'IP',
          evaluationWindowSec: 300,
          scopeDownStatement: adminPath(),
        },
      },
      visibilityConfig: visibility('admin-rate-per-ip'),
    });
    const webAcl = new aws.wafv2.WebAcl(
      aclName,
      {
        name: aclName,
        scope: 'CLOUDFRONT',
        defaultAction: { allow: {} },
        rules: [
          ...adminRules,
          managedGroup('AWSManagedRulesAmazonIpReputationList', 2),
          // Long prompts are legitimate: the 8 KB body limit only counts, never blocks.
          managedGroup('AWSManagedRulesCommonRuleSet', 3, ['SizeRestrictions_BODY']),
          managedGroup('AWSManagedRulesKnownBadInputsRuleSet', 4),
          {
            name: 'rate-per-ip',
            priority: 5,
            action: { block: {} },
            statement: {
              rateBasedStatement: {
                limit: args.wafRateLimit,
                aggregateKeyType: 'IP',
                evaluationWindowSec: 300,
              },
            },
            visibilityConfig: visibility('rate-per-ip'),
          },
        ],
        visibilityConfig: visibility(aclName),
        tags: args.tags,
      },
      inUsEast1,
    );

    // WAF logs: the group name must start with aws-waf-logs- and live where the ACL does.
    const wafLogs = new aws.cloudwatch.LogGroup(
      `${name}-waf-logs`,
      {
        name: `aws-waf-logs-${name}`,
        retentionInDays: args.logRetentionDays,
        tags: args.tags,
      },
      inUsEast1,
    );
    new aws.wafv2.WebAclLoggingConfiguration(
      `${name}-waf-logs`,
      {
        resourceArn: webAcl.arn,
        logDestinationConfigs: [wafLogs.arn],
        redactedFields: REDACTED_HEADERS.map((header) => ({ singleHeader: { name: header } })),
      },
      inUsEast1,
    );

    const vpcOrigin = new aws.cloudfront.VpcOrigin(
      `${name}-origin`,
      {
        vpcOriginEndpointConfig: {
          name: `${name}-alb`,
          arn: args.albArn,
          httpPort: 80,
          httpsPort: 443,
          originProtocolPolicy: args.originProtocol,
          originSslProtocols: { items: ['TLSv1.2'], quantity: 1 },
        },
        tags: args.tags,
      },
      parent,
    );

    let viewerCertificate: aws.types.input.cloudfront.DistributionViewerCertificate = {
      cloudfrontDefaultCertificate: true,
    };
    let aliases: string[] | undefined;
    if (args.domain) {
      const certificateArn = dnsValidatedCertificate(
        `${name}-viewer`,
        args.domain.name,
        args.domain.hostedZoneId,
        args.tags,
        inUsEast1,
      );
      viewerCertificate = {
        acmCertificateArn: certificateArn,
        sslSupportMethod: 'sni-only',
        minimumProtocolVersion: 'TLSv1.2_2021',
      };
      aliases = [args.domain.name];
    }

    const distribution = new aws.cloudfront.Distribution(
      `${name}-cdn`,
      {
        enabled: true,
        comment: `Switchboard ${name}`,
        isIpv6Enabled: true,
        httpVersion: 'http2and3',
        priceClass: args.priceClass,
        aliases,
        origins: [
          {
            originId: ORIGIN_ID,
            domainName: args.originDomainName,
            vpcOriginConfig: {
              vpcOriginId: vpcOrigin.id,
              originReadTimeout: ORIGIN_READ_TIMEOUT_SECONDS,
              originKeepaliveTimeout: 60,
            },
          },
        ],
        // Every path is API: nothing is cacheable, and compression would buffer SSE frames.
        defaultCacheBehavior: {
          targetOriginId: ORIGIN_ID,
          viewerProtocolPolicy: 'https-only',
          allowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'POST', 'PATCH', 'DELETE'],
          cachedMethods: ['GET', 'HEAD'],
          cachePolicyId: CACHING_DISABLED_POLICY_ID,
          originRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
          compress: false,
        },
        restrictions: { geoRestriction: { restrictionType: 'none' } },
        viewerCertificate,
        webAclId: webAcl.arn,
        tags: args.tags,
      },
      parent,
    );

    // CloudFront standard logs (v2): vended through CloudWatch Logs delivery in us-east-1.
    const accessLogs = new aws.cloudwatch.LogGroup(
      `${name}-cdn-logs`,
      {
        name: `/switchboard/${name}/cloudfront`,
        retentionInDays: args.logRetentionDays,
        tags: args.tags,
      },
      inUsEast1,
    );
    const logSource = new aws.cloudwatch.LogDeliverySource(
      `${name}-cdn-logs`,
      {
        name: `${name}-cdn`,
        logType: 'ACCESS_LOGS',
        resourceArn: distribution.arn,
        tags: args.tags,
      },
      inUsEast1,
    );
    const logDestination = new aws.cloudwatch.LogDeliveryDestination(
      `${name}-cdn-logs`,
      {
        name: `${name}-cdn`,
        deliveryDestinationConfiguration: { destinationResourceArn: accessLogs.arn },
        tags: args.tags,
      },
      inUsEast1,
    );
    new aws.cloudwatch.LogDelivery(
      `${name}-cdn-logs`,
      {
        deliverySourceName: logSource.name,
        deliveryDestinationArn: logDestination.arn,
        tags: args.tags,
      },
      inUsEast1,
    );

    // CloudFront creates CloudFront-VPCOrigins-Service-SG in the VPC with the VPC origin and
    // sends origin traffic from ENIs carrying it. Looked up only after the origin exists
    // (during the first preview the lookup is deferred, its result unknown).
    const originSg = aws.ec2.getSecurityGroupOutput(
      {
        filters: [
          { name: 'group-name', values: [VPC_ORIGIN_SERVICE_SG] },
          { name: 'vpc-id', values: [args.vpcId] },
        ],
      },
      { parent: this, dependsOn: [vpcOrigin] },
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-alb-from-vpc-origin`,
      {
        securityGroupId: args.albSecurityGroupId,
        description: `CloudFront VPC origin (${VPC_ORIGIN_SERVICE_SG})`,
        ipProtocol: 'tcp',
        fromPort: args.albListenerPort,
        toPort: args.albListenerPort,
        referencedSecurityGroupId: originSg.id,
      },
      parent,
    );

    if (args.domain) {
      for (const type of ['A', 'AAAA']) {
        new aws.route53.Record(
          `${name}-alias-${type.toLowerCase()}`,
          {
            zoneId: args.domain.hostedZoneId,
            name: args.domain.name,
            type,
            aliases: [
              {
                name: distribution.domainName,
                zoneId: distribution.hostedZoneId,
                evaluateTargetHealth: false,
              },
            ],
          },
          parent,
        );
      }
    }

    this.distributionId = distribution.id;
    this.distributionDomainName = distribution.domainName;
    this.webAclArn = webAcl.arn;
    this.webAclName = webAcl.name;
    this.wafLogGroupName = wafLogs.name;
    this.accessLogGroupName = accessLogs.name;
    this.url = args.domain
      ? pulumi.output(`https://${args.domain.name}`)
      : pulumi.interpolate`https://${distribution.domainName}`;
    this.registerOutputs({ url: this.url, distributionId: this.distributionId });
  }
}
