import { Redis } from 'ioredis';
import { waitFor } from '@switchboard/common/testing';
import {
  RateLimitService,
  RedisLimitsVersion,
  RedisLimitStore,
  subjectOf,
  type StoreCheckInput,
} from '@switchboard/rate-limit';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@switchboard/storage/testing';
import { BudgetService } from './budget.service';
import { RedisAdmission } from './redis-admission';
import { RedisBudgetStore } from './redis-budget.store';

describe('RedisAdmission: limits version, rate limits and budget hold in one script', () => {
  const prefix = uniqueRedisPrefix('admission');
  const budgetPrefix = `${prefix}{budget}:`;
  let client: Redis;
  let limits: RedisLimitStore;
  let rateLimits: RateLimitService;
  let budgets: BudgetService;
  let version: RedisLimitsVersion;
  let admission: RedisAdmission;
  let n = 0;

  beforeAll(() => {
    client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    limits = new RedisLimitStore(client, { keyPrefix: `${prefix}rl:`, hashTag: 'budget' });
    rateLimits = new RateLimitService(limits, { logger: { warn: () => undefined } });
    const budgetStore = new RedisBudgetStore(client, { prefix: budgetPrefix });
    budgets = new BudgetService(budgetStore);
    version = new RedisLimitsVersion(client, `${budgetPrefix}limits-version`);
    admission = new RedisAdmission(client, limits, budgetStore, version);
  });
  afterAll(async () => {
    await deleteRedisPrefix(client, prefix);
    await client.quit();
  });

  /** a fresh subject with these limits, and a request id */
  function request(opts: { rpm?: number; streams?: number; tpm?: number; estimate?: number }) {
    const id = `r${++n}`;
    const subject = subjectOf('key', `k${n}`);
    const check = rateLimits.prepare({
      subjects: [
        {
          subject,
          limits: {
            requestsPerMinute: opts.rpm,
            concurrentStreams: opts.streams,
            tokensPerMinute: opts.tpm,
          },
        },
      ],
      estimatedTokens: opts.estimate ?? 10,
      slotId: id,
      leaseMs: 15_000,
    })!;
    return { id, subject, check, scope: { type: 'key' as const, id: `k${n}` } };
  }

  const holdFor = (
    holdId: string,
    scope: { type: 'key'; id: string },
    limitMicros: number,
    amountMicros: number,
  ) =>
    budgets.prepare({
      holdId,
      scopes: [{ ...scope, limits: [{ period: 'day', limitMicros }] }],
      amountMicros,
      ttlMs: 60_000,
    });

  /** what the limits still allow the subject, read by an admitting check that is then taken back */
  async function remaining(check: StoreCheckInput): Promise<Record<string, number>> {
    const probe = { ...check, slotId: `probe-${++n}`, estimatedTokens: 0 };
    const r = await limits.check(probe);
    await limits.release(probe.slotId);
    return Object.fromEntries(
      r.states.map((s) => [s.limit, s.remaining + (s.limit === 'tokensPerMinute' ? 0 : 1)]),
    );
  }

  it('admits and charges both: the request, its tokens, its stream slot and the hold', async () => {
    const { id, check, scope } = request({ rpm: 5, streams: 2, tpm: 100, estimate: 30 });
    const r = await admission.admit(undefined, check, holdFor(id, scope, 1_000, 400));
    expect(r.outcome).toBe('ok');
    expect(r.outcome !== 'stale' && r.limits?.allowed).toBe(true);
    expect(r.outcome !== 'stale' && r.hold).toEqual({ ok: true });
    expect(await remaining(check)).toEqual({
      requestsPerMinute: 4,
      concurrentStreams: 1,
      tokensPerMinute: 70,
    });
    expect((await budgets.usage('key', scope.id, 'day')).heldMicros).toBe(400);
  });

  it('a budget refusal takes the limit charge back in the same script: nothing of it stays', async () => {
    const { id, check, scope } = request({ rpm: 1, streams: 1, tpm: 50, estimate: 30 });
    const r = await admission.admit(undefined, check, holdFor(id, scope, 100, 400));
    expect(r.outcome).toBe('hold');
    expect(r.outcome !== 'stale' && r.hold).toMatchObject({ ok: false, limitMicros: 100 });
    expect(await remaining(check)).toEqual({
      requestsPerMinute: 1,
      concurrentStreams: 1,
      tokensPerMinute: 50,
    });
    expect((await budgets.usage('key', scope.id, 'day')).heldMicros).toBe(0);
  });

  it('a rate-limit refusal places no hold', async () => {
    const { id, check, scope } = request({ rpm: 1 });
    expect((await admission.admit(undefined, check, holdFor(id, scope, 1_000, 10))).outcome).toBe(
      'ok',
    );
    const second = { ...check, slotId: `${id}-2` };
    const r = await admission.admit(undefined, second, holdFor(`${id}-2`, scope, 1_000, 10));
    expect(r.outcome).toBe('limited');
    expect(r.outcome !== 'stale' && r.limits?.allowed).toBe(false);
    expect((await budgets.usage('key', scope.id, 'day')).heldMicros).toBe(10);
  });

  it('settings computed at an old limits version: stale, and nothing charged', async () => {
    await version.bump();
    const current = await version.current();
    const { id, check, scope } = request({ rpm: 3, streams: 1 });
    const r = await admission.admit('an-old-version', check, holdFor(id, scope, 1_000, 10));
    expect(r).toEqual({ outcome: 'stale', version: current });
    expect(await remaining(check)).toEqual({ requestsPerMinute: 3, concurrentStreams: 1 });
    expect((await budgets.usage('key', scope.id, 'day')).heldMicros).toBe(0);
    // at the current version it goes through
    expect((await admission.admit(current, check, holdFor(id, scope, 1_000, 10))).outcome).toBe(
      'ok',
    );
  });

  it('finish gives the slot back, corrects the token charge of every subject and settles the hold', async () => {
    const { id, subject, check, scope } = request({ rpm: 5, streams: 1, tpm: 100, estimate: 30 });
    expect((await admission.admit(undefined, check, holdFor(id, scope, 1_000, 400))).outcome).toBe(
      'ok',
    );
    const settled = await admission.finish(
      id,
      [subject],
      20 - 30,
      rateLimits.windowMs,
      budgets.prepareSettle(id, 250),
    );
    expect(settled).toBe(true);
    expect(await remaining(check)).toEqual({
      requestsPerMinute: 4,
      concurrentStreams: 1,
      tokensPerMinute: 80,
    });
    expect(await budgets.usage('key', scope.id, 'day')).toEqual({
      spentMicros: 250,
      heldMicros: 0,
    });
    // a second finish changes nothing
    expect(
      await admission.finish(id, [subject], 0, rateLimits.windowMs, budgets.prepareSettle(id, 250)),
    ).toBe(false);
    expect((await budgets.usage('key', scope.id, 'day')).spentMicros).toBe(250);
  });

  it('is one command on the wire', async () => {
    const monitor = await client.duplicate().monitor();
    const me = `${client.stream.localAddress}:${client.stream.localPort}`;
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === me) seen.push(args[0].toLowerCase());
    });
    try {
      const { id, check, scope } = request({ rpm: 5, streams: 1, tpm: 100 });
      await admission.admit(await version.current(), check, holdFor(id, scope, 1_000, 10));
      await client.ping();
      await waitFor(() => seen.includes('ping'), { timeoutMs: 10_000, what: 'the monitor' });
      seen.length = 0;
      const next = request({ rpm: 5, streams: 1, tpm: 100 });
      await admission.admit(
        await version.current(),
        next.check,
        holdFor(next.id, next.scope, 1_000, 10),
      );
      await client.ping();
      await waitFor(() => seen.includes('ping'), { timeoutMs: 10_000, what: 'the monitor' });
      // version.current() is the test's own GET; the admission itself is the one evalsha
      expect(seen).toEqual(['get', 'evalsha', 'ping']);
      // the first finish on this client may load its script; the next is one evalsha
      await admission.finish(next.id, [next.subject], 5, rateLimits.windowMs, undefined);
      await client.ping();
      await waitFor(() => seen.filter((c) => c === 'ping').length === 2, {
        timeoutMs: 10_000,
        what: 'the monitor',
      });
      seen.length = 0;
      await admission.finish(
        next.id,
        [next.subject],
        5,
        rateLimits.windowMs,
        budgets.prepareSettle(next.id, 3),
      );
      await client.ping();
      await waitFor(() => seen.includes('ping'), { timeoutMs: 10_000, what: 'the monitor' });
      expect(seen).toEqual(['evalsha', 'ping']);
    } finally {
      monitor.disconnect();
    }
  });
});
