import { randomUUID } from 'node:crypto';
import type { LimitStore } from '../src/limit-store.port';
import type { StoreCheckInput, SubjectCheck } from '../src/rate-limit.types';

/** One adapter under test; `sleep` advances a fake clock or really waits. */
export interface StoreHarness {
  store: LimitStore;
  sleep(ms: number): Promise<void>;
  /** short enough that Redis tests can wait it out */
  windowMs: number;
}

function input(h: StoreHarness, subjects: SubjectCheck[], extra: Partial<StoreCheckInput> = {}) {
  return {
    subjects,
    estimatedTokens: 0,
    slotId: randomUUID(),
    leaseMs: 10_000,
    windowMs: h.windowMs,
    ...extra,
  };
}

async function admitted(h: StoreHarness, n: number, subjects: SubjectCheck[]): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await h.store.check(input(h, subjects))).allowed) ok++;
  return ok;
}

/**
 * Behaviour every LimitStore must share. Subjects are unique per case so the
 * table can run against a shared Redis.
 */
export const limitStoreContract: Array<[string, (h: StoreHarness) => Promise<void>]> = [
  [
    'admits requestsPerMinute requests, then refuses naming the limit and a retry within the window',
    async (h) => {
      const s: SubjectCheck[] = [
        { subject: `key:${randomUUID()}`, limits: { requestsPerMinute: 3 } },
      ];
      expect(await admitted(h, 3, s)).toBe(3);
      const r = await h.store.check(input(h, s));
      expect(r.allowed).toBe(false);
      if (r.allowed) return;
      expect(r.failed).toEqual({ subject: s[0].subject, limit: 'requestsPerMinute' });
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(h.windowMs);
    },
  ],
  [
    'slides: a slot returns only when the oldest request leaves the window',
    async (h) => {
      const s: SubjectCheck[] = [
        { subject: `user:${randomUUID()}`, limits: { requestsPerMinute: 2 } },
      ];
      expect(await admitted(h, 1, s)).toBe(1);
      await h.sleep(h.windowMs / 2);
      expect(await admitted(h, 2, s)).toBe(1);
      // first request has left, second is still inside
      await h.sleep(h.windowMs / 2 + 50);
      expect(await admitted(h, 2, s)).toBe(1);
    },
  ],
  [
    'reports remaining quota after admission',
    async (h) => {
      const s: SubjectCheck[] = [
        {
          subject: `key:${randomUUID()}`,
          limits: { requestsPerMinute: 5, tokensPerMinute: 100, concurrentStreams: 2 },
        },
      ];
      const r = await h.store.check(input(h, s, { estimatedTokens: 30 }));
      expect(r.allowed).toBe(true);
      expect(r.states.map((x) => [x.limit, x.max, x.remaining])).toEqual([
        ['requestsPerMinute', 5, 4],
        ['tokensPerMinute', 100, 70],
        ['concurrentStreams', 2, 1],
      ]);
      expect(r.states[0].resetMs).toBeGreaterThan(0);
      expect(r.states[0].resetMs).toBeLessThanOrEqual(h.windowMs);
      expect(r.states[2].resetMs).toBeUndefined();
    },
  ],
  [
    'is all-or-nothing across subjects: a refusal charges no other subject',
    async (h) => {
      const roomy = {
        subject: `account:${randomUUID()}` as const,
        limits: { requestsPerMinute: 2, tokensPerMinute: 100 },
      };
      const full = { subject: `key:${randomUUID()}` as const, limits: { requestsPerMinute: 1 } };
      expect(await admitted(h, 1, [full])).toBe(1);
      for (let i = 0; i < 5; i++) {
        const r = await h.store.check(input(h, [roomy, full], { estimatedTokens: 50 }));
        expect(r.allowed).toBe(false);
      }
      // roomy was never charged: both requests and all 100 tokens are still there
      const r = await h.store.check(input(h, [roomy], { estimatedTokens: 100 }));
      expect(r.allowed).toBe(true);
      expect(await admitted(h, 1, [roomy])).toBe(0);
    },
  ],
  [
    'charges estimated tokens and refuses a request that would exceed tokensPerMinute',
    async (h) => {
      const s: SubjectCheck[] = [
        { subject: `user:${randomUUID()}`, limits: { tokensPerMinute: 1000 } },
      ];
      expect((await h.store.check(input(h, s, { estimatedTokens: 600 }))).allowed).toBe(true);
      const r = await h.store.check(input(h, s, { estimatedTokens: 500 }));
      expect(r.allowed).toBe(false);
      if (!r.allowed) expect(r.failed.limit).toBe('tokensPerMinute');
      expect((await h.store.check(input(h, s, { estimatedTokens: 400 }))).allowed).toBe(true);
    },
  ],
  [
    'corrects a charge in place with adjustTokens(chargeId)',
    async (h) => {
      const subject = `key:${randomUUID()}` as const;
      const s: SubjectCheck[] = [{ subject, limits: { tokensPerMinute: 1000 } }];
      const slotId = randomUUID();
      expect((await h.store.check(input(h, s, { estimatedTokens: 900, slotId }))).allowed).toBe(
        true,
      );
      expect((await h.store.check(input(h, s, { estimatedTokens: 500 }))).allowed).toBe(false);
      await h.store.adjustTokens(subject, -800, h.windowMs, slotId); // actual usage was 100
      expect((await h.store.check(input(h, s, { estimatedTokens: 900 }))).allowed).toBe(true);
      const r = await h.store.check(input(h, s, { estimatedTokens: 1 }));
      expect(r.allowed).toBe(false);
    },
  ],
  [
    'charges extra actual usage with adjustTokens and refunds never go below zero',
    async (h) => {
      const subject = `user:${randomUUID()}` as const;
      const s: SubjectCheck[] = [{ subject, limits: { tokensPerMinute: 100 } }];
      const slotId = randomUUID();
      expect((await h.store.check(input(h, s, { estimatedTokens: 10, slotId }))).allowed).toBe(
        true,
      );
      await h.store.adjustTokens(subject, 85, h.windowMs, slotId);
      expect((await h.store.check(input(h, s, { estimatedTokens: 10 }))).allowed).toBe(false);
      await h.store.adjustTokens(subject, -1_000, h.windowMs, slotId);
      const r = await h.store.check(input(h, s, { estimatedTokens: 100 }));
      expect(r.allowed).toBe(true);
      // without a charge id a positive delta is charged now
      await h.store.adjustTokens(subject, -100, h.windowMs);
      await h.store.adjustTokens(subject, 60, h.windowMs);
      expect((await h.store.check(input(h, s, { estimatedTokens: 50 }))).allowed).toBe(false);
      expect((await h.store.check(input(h, s, { estimatedTokens: 40 }))).allowed).toBe(true);
    },
  ],
  [
    'refuses an estimate larger than the whole token limit with a full-window retry',
    async (h) => {
      const s: SubjectCheck[] = [
        { subject: `key:${randomUUID()}`, limits: { tokensPerMinute: 100 } },
      ];
      const r = await h.store.check(input(h, s, { estimatedTokens: 101 }));
      expect(r.allowed).toBe(false);
      if (!r.allowed) expect(r.retryAfterMs).toBe(h.windowMs);
    },
  ],
  [
    'holds concurrentStreams slots until release; release is idempotent',
    async (h) => {
      const s: SubjectCheck[] = [
        { subject: `account:${randomUUID()}`, limits: { concurrentStreams: 2 } },
      ];
      const a = randomUUID();
      const b = randomUUID();
      expect((await h.store.check(input(h, s, { slotId: a }))).allowed).toBe(true);
      expect((await h.store.check(input(h, s, { slotId: b }))).allowed).toBe(true);
      const r = await h.store.check(input(h, s));
      expect(r.allowed).toBe(false);
      if (!r.allowed) expect(r.failed.limit).toBe('concurrentStreams');
      await h.store.release(a);
      await h.store.release(a);
      expect((await h.store.check(input(h, s))).allowed).toBe(true);
      expect((await h.store.check(input(h, s))).allowed).toBe(false);
    },
  ],
  [
    'frees a slot whose lease expired (dead replica) unless it was renewed',
    async (h) => {
      const s: SubjectCheck[] = [
        { subject: `user:${randomUUID()}`, limits: { concurrentStreams: 1 } },
      ];
      const dead = randomUUID();
      expect((await h.store.check(input(h, s, { slotId: dead, leaseMs: 150 }))).allowed).toBe(true);
      expect((await h.store.check(input(h, s))).allowed).toBe(false);
      await h.sleep(200);
      expect(await h.store.renew(dead, 10_000)).toBe(false);
      const live = randomUUID();
      expect((await h.store.check(input(h, s, { slotId: live, leaseMs: 150 }))).allowed).toBe(true);
      await h.sleep(100);
      expect(await h.store.renew(live, 10_000)).toBe(true);
      await h.sleep(100);
      expect((await h.store.check(input(h, s))).allowed).toBe(false);
      await h.store.release(live);
      expect(await h.store.renew(live, 10_000)).toBe(false);
    },
  ],
  [
    'retake puts a lapsed slot back on its holders without a limit check; release frees it',
    async (h) => {
      const key = { subject: `key:${randomUUID()}` as const, limits: { concurrentStreams: 1 } };
      const user = { subject: `user:${randomUUID()}` as const, limits: { concurrentStreams: 1 } };
      const slot = randomUUID();
      expect(
        (await h.store.check(input(h, [key, user], { slotId: slot, leaseMs: 150 }))).allowed,
      ).toBe(true);
      await h.sleep(200);
      expect(await h.store.renew(slot, 10_000)).toBe(false);
      const other = randomUUID();
      expect((await h.store.check(input(h, [user], { slotId: other }))).allowed).toBe(true);
      // the lapsed stream is still running: it is counted again even though the user is full
      await h.store.retake(slot, 10_000, [key.subject, user.subject]);
      expect((await h.store.check(input(h, [key]))).allowed).toBe(false);
      expect(await h.store.renew(slot, 10_000)).toBe(true);
      await h.store.release(other);
      expect((await h.store.check(input(h, [user]))).allowed).toBe(false);
      await h.store.release(slot);
      expect((await h.store.check(input(h, [key]))).allowed).toBe(true);
      expect((await h.store.check(input(h, [user]))).allowed).toBe(true);
    },
  ],
  [
    'releases a slot on every subject that holds it',
    async (h) => {
      const key = { subject: `key:${randomUUID()}` as const, limits: { concurrentStreams: 1 } };
      const user = { subject: `user:${randomUUID()}` as const, limits: { concurrentStreams: 1 } };
      const slot = randomUUID();
      expect((await h.store.check(input(h, [key, user], { slotId: slot }))).allowed).toBe(true);
      expect((await h.store.check(input(h, [user]))).allowed).toBe(false);
      await h.store.release(slot);
      expect((await h.store.check(input(h, [key]))).allowed).toBe(true);
      expect((await h.store.check(input(h, [user]))).allowed).toBe(true);
    },
  ],
  [
    'refuses everything when a limit is zero',
    async (h) => {
      const s: SubjectCheck[] = [
        { subject: `key:${randomUUID()}`, limits: { requestsPerMinute: 0 } },
      ];
      expect(await admitted(h, 2, s)).toBe(0);
    },
  ],
];
