import { checkAll, T } from './policy';
import { MockedStack, runMockedStack } from './testing/mock-stack';

// Prod with a custom domain: exercises the certificate / HTTPS-origin path that the committed
// stack files leave off (no real hosted zone is committed).
describe('prod with domainName and hostedZoneId', () => {
  let stack: MockedStack;

  beforeAll(async () => {
    stack = await runMockedStack('prod', {
      'switchboard:domainName': 'api.example.com',
      'switchboard:hostedZoneId': 'Z0123456789EXAMPLE',
    });
  });

  it('still passes every policy invariant', () => {
    expect(checkAll(stack.resources)).toEqual([]);
  });

  it('terminates TLS on the ALB with a validated regional certificate for origin.<domain>', () => {
    const listener = stack.one(T.listener);
    const validation = stack.one('aws:acm/certificateValidation:CertificateValidation', 'origin');
    expect(listener.props).toMatchObject({
      port: 443,
      protocol: 'HTTPS',
      certificateArn: validation.props.certificateArn,
    });
    expect(stack.one('aws:acm/certificate:Certificate', 'origin')).toMatchObject({
      region: 'eu-west-1',
      props: expect.objectContaining({ domainName: 'origin.api.example.com' }),
    });
    expect(stack.one(T.vpcOrigin).props.vpcOriginEndpointConfig).toMatchObject({
      originProtocolPolicy: 'https-only',
    });
    expect(stack.one(T.ingressRule, 'alb-from-cloudfront').props).toMatchObject({
      fromPort: 443,
      toPort: 443,
    });
  });

  it('gives CloudFront a us-east-1 viewer certificate and the domain as alias', () => {
    const cert = stack.one('aws:acm/certificate:Certificate', 'viewer');
    expect(cert.region).toBe('us-east-1');
    const dist = stack.one(T.distribution);
    expect(dist.props.aliases).toEqual(['api.example.com']);
    expect(dist.props.viewerCertificate).toMatchObject({
      sslSupportMethod: 'sni-only',
      minimumProtocolVersion: 'TLSv1.2_2021',
    });
    expect((dist.props.origins as { domainName: string }[])[0].domainName).toBe(
      'origin.api.example.com',
    );
    expect(stack.outputs.serviceUrl).toBe('https://api.example.com');
  });
});
