import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { dnsValidatedCertificate } from './certificate';

export interface EdgeArgs {
  /** Provider pinned to us-east-1: CloudFront-scoped WAF and viewer certificates live there. */
  usEast1: aws.Provider;
  albArn: pulumi.Input<string>;
  originDomainName: pulumi.Input<string>;
  originProtocol: 'http-only' | 'https-only';
  wafRateLimit: number;
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

/**
 * CloudFront in front of the internal ALB, reached through a VPC origin.
 *
 * Why a VPC origin rather than a secret origin header: the ALB has no public address at
 * all, so there is no header to leak or rotate and nothing to probe from the internet;
 * the ALB security group additionally admits only CloudFront's origin-facing prefix list.
 */
export class Edge extends pulumi.ComponentResource {
  readonly distributionId: pulumi.Output<string>;
  readonly distributionDomainName: pulumi.Output<string>;
  readonly webAclArn: pulumi.Output<string>;
  readonly webAclName: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:edge:Edge', name, {}, opts);
    const parent = { parent: this };
    const inUsEast1 = { parent: this, provider: args.usEast1 };

    // WAF metrics carry the ACL's metric name as the WebACL dimension; naming the ACL the
    // same keeps alarms and the dashboard correct whichever of the two a reader assumes.
    const aclName = `${name}-waf`;
    const webAcl = new aws.wafv2.WebAcl(
      aclName,
      {
        name: aclName,
        scope: 'CLOUDFRONT',
        defaultAction: { allow: {} },
        rules: [
          managedGroup('AWSManagedRulesAmazonIpReputationList', 0),
          // Long prompts are legitimate: the 8 KB body limit only counts, never blocks.
          managedGroup('AWSManagedRulesCommonRuleSet', 1, ['SizeRestrictions_BODY']),
          managedGroup('AWSManagedRulesKnownBadInputsRuleSet', 2),
          {
            name: 'rate-per-ip',
            priority: 3,
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
    this.url = args.domain
      ? pulumi.output(`https://${args.domain.name}`)
      : pulumi.interpolate`https://${distribution.domainName}`;
    this.registerOutputs({ url: this.url, distributionId: this.distributionId });
  }
}
