import { checkTimeouts, parseCidrs } from './config';

describe('stack config checks', () => {
  const ok = {
    shutdownDrainSeconds: 75,
    deregistrationDelaySeconds: 90,
    albIdleTimeoutSeconds: 300,
  };

  it('accepts drain < deregistration < stopTimeout and an idle timeout above the heartbeat', () => {
    expect(() => checkTimeouts(ok)).not.toThrow();
  });

  it.each([
    [
      { ...ok, deregistrationDelaySeconds: 120 },
      /deregistrationDelaySeconds \(120\) must be < stopTimeout/,
    ],
    [
      { ...ok, shutdownDrainSeconds: 90 },
      /shutdownDrainSeconds \(90\) must be < deregistrationDelaySeconds/,
    ],
    [{ ...ok, albIdleTimeoutSeconds: 15 }, /must exceed the 15 s SSE heartbeat/],
  ])('rejects %o', (timeouts, message) => {
    expect(() => checkTimeouts(timeouts)).toThrow(message);
  });

  it('accepts IPv4 CIDRs and rejects anything else for the /admin allow-list', () => {
    expect(parseCidrs('adminAllowedCidrs', ['203.0.113.0/24', '10.0.0.1/32'])).toEqual([
      '203.0.113.0/24',
      '10.0.0.1/32',
    ]);
    for (const bad of ['203.0.113.0', '256.0.0.0/8', '10.0.0.0/33', '::/0', '0.0.0.0/0 '])
      expect(() => parseCidrs('adminAllowedCidrs', [bad])).toThrow(/is not an IPv4 CIDR/);
  });
});
