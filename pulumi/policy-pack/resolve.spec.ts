import * as policy from '@pulumi/policy';
import { checkAll, UNKNOWN } from '../policy';
import { resolveUnknowns } from './resolve';

// The engine's wire sentinels for unknown values (@pulumi/policy proxy.js).
const unknownStringValue = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
const unknownArrayValue = '6a19a0b0-7e62-4c92-b797-7f8e31da9cc2';

/** The proxy the engine wraps resource properties in before policies read them. */
const unknownCheckingProxy = policy.unknownCheckingProxy as unknown as (
  o: object,
) => Record<string, unknown>;

describe('resolveUnknowns (policy pack, real preview values)', () => {
  const raw = {
    name: 'switchboard-dev-alb',
    internal: true,
    arn: unknownStringValue,
    securityGroups: [unknownStringValue, 'sg-known'],
    subnets: unknownArrayValue,
    accessLogs: { enabled: true, bucket: unknownStringValue },
  };

  it('reading an unknown through the engine proxy throws (what made rules advisory)', () => {
    const props = unknownCheckingProxy(raw);
    expect(() => props.arn).toThrow(/can't be known during preview/);
  });

  it('copies the proxy into plain values with UNKNOWN in place of every unknown', () => {
    const props = unknownCheckingProxy(raw);
    expect(resolveUnknowns(props)).toEqual({
      name: 'switchboard-dev-alb',
      internal: true,
      arn: UNKNOWN,
      securityGroups: [UNKNOWN, 'sg-known'],
      subnets: UNKNOWN,
      accessLogs: { enabled: true, bucket: UNKNOWN },
    });
  });

  it('lets the invariants run over the copy without throwing', () => {
    const props = resolveUnknowns(unknownCheckingProxy(raw)) as Record<string, unknown>;
    const run = () =>
      checkAll([
        {
          type: 'aws:lb/loadBalancer:LoadBalancer',
          name: 'switchboard-dev-alb',
          props: { ...props, dropInvalidHeaderFields: true, idleTimeout: 300 },
        },
      ]);
    expect(run).not.toThrow();
    expect(run()).toEqual([]);
  });
});
