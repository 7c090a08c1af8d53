import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/**
 * ACM certificate validated through a DNS record in the stack's hosted zone. Returns
 * the ARN of the validated certificate, so listeners/distributions wait for issuance.
 */
export function dnsValidatedCertificate(
  name: string,
  domainName: string,
  hostedZoneId: string,
  tags: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const cert = new aws.acm.Certificate(
    `${name}-cert`,
    { domainName, validationMethod: 'DNS', tags },
    opts,
  );
  const option = cert.domainValidationOptions.apply((options) => options[0]);
  // Route 53 is global; validation records never need the us-east-1 provider.
  const { provider: _provider, ...recordOpts } = opts;
  const record = new aws.route53.Record(
    `${name}-cert-validation`,
    {
      zoneId: hostedZoneId,
      name: option.resourceRecordName,
      type: option.resourceRecordType,
      records: [option.resourceRecordValue],
      ttl: 60,
      allowOverwrite: true,
    },
    recordOpts,
  );
  const validation = new aws.acm.CertificateValidation(
    `${name}-cert`,
    { certificateArn: cert.arn, validationRecordFqdns: [record.fqdn] },
    opts,
  );
  return validation.certificateArn;
}
