import { randomUUID } from 'node:crypto';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import type { LimitStore } from './limit-store.port';
import { MemoryLimitStore } from './memory-limit.store';
import { RateLimitModule } from './rate-limit.module';
import { mergeLimits, RateLimitService } from './rate-limit.service';
import { RedisLimitStore } from './redis-limit.store';

const quiet = { warn: jest.fn() };

function service(now: { t: number }, failOpen?: boolean) {
  return new RateLimitService(new MemoryLimitStore(() => now.t), { failOpen, logger: quiet });
}

function brokenStore(): LimitStore {
  const fail = () => Promise.reject(new Error('ECONNREFUSED'));
  return {
    backend: 'redis',
    check: fail,
    adjustTokens: fail,
    release: fail,
    renew: fail,
    retake: fail,
  };
}

describe('RateLimitService', () => {
  it('sends RateLimit-Policy and RateLimit for the most constrained limit', async () => {
    const now = { t: 1_000_000 };
    const svc = service(now);
    const r = await svc.check({
      subjects: [
        { subject: 'key:k1', limits: { requestsPerMinute: 10, tokensPerMinute: 1_000 } },
        { subject: 'account:a1', limits: { concurrentStreams: 4 } },
      ],
      estimatedTokens: 800,
      slotId: randomUUID(),
      leaseMs: 60_000,
    });
    expect(r).toEqual({
      allowed: true,
      headers: {
        'RateLimit-Policy': '"key-tokens";q=1000;w=60;sb-unit="tokens"',
        RateLimit: '"key-tokens";r=200;t=60',
      },
    });
  });

  it('refuses with the limit, subject, Retry-After and a matching effective window', async () => {
    const now = { t: 1_000_000 };
    const svc = service(now);
    const req = () => ({
      subjects: [{ subject: 'user:u1' as const, limits: { requestsPerMinute: 2 } }],
      estimatedTokens: 0,
      slotId: randomUUID(),
      leaseMs: 1_000,
    });
    await svc.check(req());
    now.t += 20_500;
    await svc.check(req());
    now.t += 1_000;
    const r = await svc.check(req());
    expect(r).toEqual({
      allowed: false,
      reason: 'rate_limited',
      retryAfterSeconds: 39,
      limit: 'requestsPerMinute',
      subject: 'user:u1',
      headers: {
        'RateLimit-Policy': '"user-requests";q=2;w=60',
        RateLimit: '"user-requests";r=0;t=39',
        'Retry-After': '39',
      },
    });
  });

  it('marks concurrency policies with the concurrent-requests quota unit and no window', async () => {
    const svc = service({ t: 0 });
    const slotId = randomUUID();
    const check = () =>
      svc.check({
        subjects: [{ subject: 'account:a', limits: { concurrentStreams: 1 } }],
        estimatedTokens: 0,
        slotId: randomUUID(),
        leaseMs: 1_000,
      });
    await svc.check({
      subjects: [{ subject: 'account:a', limits: { concurrentStreams: 1 } }],
      estimatedTokens: 0,
      slotId,
      leaseMs: 1_000,
    });
    const r = await check();
    expect(r.allowed).toBe(false);
    expect(r.headers).toEqual({
      'RateLimit-Policy': '"account-streams";q=1;qu="concurrent-requests"',
      RateLimit: '"account-streams";r=0;t=1',
      'Retry-After': '1',
    });
    await svc.release(slotId);
    expect((await check()).allowed).toBe(true);
  });

  it('merges a subject given twice, keeping the stricter limit', async () => {
    const svc = service({ t: 0 });
    const check = () =>
      svc.check({
        subjects: [
          { subject: 'user:u', limits: { requestsPerMinute: 5 } },
          { subject: 'user:u', limits: { requestsPerMinute: 1 } },
        ],
        estimatedTokens: 0,
        slotId: randomUUID(),
        leaseMs: 1_000,
      });
    expect((await check()).allowed).toBe(true);
    expect((await check()).allowed).toBe(false);
  });

  it('admits without touching the store when no limit applies', async () => {
    const svc = new RateLimitService(brokenStore(), { failOpen: false, logger: quiet });
    const r = await svc.check({
      subjects: [{ subject: 'key:k', limits: {} }],
      estimatedTokens: 5,
      slotId: 's',
      leaseMs: 1,
    });
    expect(r).toEqual({ allowed: true, headers: {} });
  });

  it('fails open on a store error when configured, and logs it', async () => {
    const logger = { warn: jest.fn() };
    const svc = new RateLimitService(brokenStore(), { failOpen: true, logger });
    const r = await svc.check({
      subjects: [{ subject: 'key:k', limits: { requestsPerMinute: 1 } }],
      estimatedTokens: 0,
      slotId: 's',
      leaseMs: 1,
    });
    expect(r).toEqual({ allowed: true, headers: {}, degraded: true });
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('admitting'));
    expect(svc.describe()).toEqual({ backend: 'redis', failOpen: true });
  });

  it('fails closed with reason "unavailable" when configured', async () => {
    const svc = new RateLimitService(brokenStore(), { failOpen: false, logger: quiet });
    const r = await svc.check({
      subjects: [{ subject: 'key:k', limits: { requestsPerMinute: 1 } }],
      estimatedTokens: 0,
      slotId: 's',
      leaseMs: 1,
    });
    expect(r).toEqual({ allowed: false, reason: 'unavailable', headers: {} });
    expect(svc.describe()).toEqual({ backend: 'redis', failOpen: false });
  });

  it('takes back a slot whose lease lapsed before its renewal, on the subjects with a concurrency limit', async () => {
    const now = { t: 1_000_000 };
    const svc = service(now);
    const subjects = [
      { subject: 'user:u' as const, limits: { concurrentStreams: 1 } },
      { subject: 'key:k' as const, limits: { requestsPerMinute: 100 } },
    ];
    const admit = (slotId: string) =>
      svc.check({ subjects, estimatedTokens: 0, slotId, leaseMs: 1_000 });
    expect((await admit('long')).allowed).toBe(true);
    now.t += 1_500; // the renewal comes half a second after the lease lapsed
    await expect(svc.renew('long', 1_000, subjects)).resolves.toBe(false);
    // the stream still runs: it holds the user's only slot again
    expect((await admit('next')).allowed).toBe(false);
    await expect(svc.renew('long', 1_000, subjects)).resolves.toBe(true);
    await svc.release('long');
    expect((await admit('next')).allowed).toBe(true);
  });

  it('never throws from release, renew or adjustTokens when the store is down', async () => {
    const svc = new RateLimitService(brokenStore(), { logger: quiet });
    await expect(svc.release('s')).resolves.toBeUndefined();
    await expect(svc.renew('s', 1_000)).resolves.toBe(false);
    await expect(svc.adjustTokens('key:k', 10, 's')).resolves.toBeUndefined();
  });

  it('applies the failure policy when Redis is unreachable', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on('error', () => undefined);
    const store = new RedisLimitStore(dead, { timeoutMs: 200 });
    const req = {
      subjects: [{ subject: 'key:k' as const, limits: { requestsPerMinute: 1 } }],
      estimatedTokens: 0,
      slotId: 's',
      leaseMs: 1,
    };
    const closed = new RateLimitService(store, { failOpen: false, logger: quiet });
    const open = new RateLimitService(store, { failOpen: true, logger: quiet });
    await expect(closed.check(req)).resolves.toMatchObject({
      allowed: false,
      reason: 'unavailable',
    });
    await expect(open.check(req)).resolves.toMatchObject({ allowed: true, degraded: true });
    dead.disconnect();
  });
});

describe('mergeLimits', () => {
  it('lets later layers override earlier ones field by field', () => {
    expect(
      mergeLimits(
        { requestsPerMinute: 60, tokensPerMinute: 100_000, concurrentStreams: 5 },
        null,
        { tokensPerMinute: 10_000 },
        { concurrentStreams: 1, requestsPerMinute: undefined },
      ),
    ).toEqual({ requestsPerMinute: 60, tokensPerMinute: 10_000, concurrentStreams: 1 });
  });
});

describe('RateLimitModule', () => {
  it('uses the in-process store without Redis', async () => {
    const mod = await Test.createTestingModule({
      imports: [RateLimitModule.forRoot({ failOpen: false })],
    }).compile();
    expect(mod.get(RateLimitService).describe()).toEqual({ backend: 'memory', failOpen: false });
  });

  it('uses Redis when a client is configured', async () => {
    const client = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
    const mod = await Test.createTestingModule({
      imports: [RateLimitModule.forRootAsync({ useFactory: () => ({ redis: client }) })],
    }).compile();
    expect(mod.get(RateLimitService).describe()).toEqual({ backend: 'redis', failOpen: true });
    client.disconnect();
  });
});
