import { Redis } from 'ioredis';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@switchboard/storage/testing';
import type { BudgetStore } from './budget-store.port';
import type { BudgetScope, ReserveRequest } from './budget.types';
import { BudgetService, describeRejection, formatMicros } from './budget.service';
import { InProcessBudgetStore } from './in-process-budget.store';
import { RedisBudgetStore } from './redis-budget.store';

/** A clock tests move by hand; starts mid-day so hour/day buckets are predictable. */
class Clock {
  t = Date.parse('2026-03-10T10:30:00Z');
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

interface Harness {
  /** `n` services sharing one budget state (Redis: one client each, like replicas) */
  services(n: number, clock: Clock): BudgetService[];
  cleanup(): Promise<void>;
}

const inProcess = (): Harness => {
  const store = new InProcessBudgetStore();
  return {
    services: (n, clock) =>
      Array.from({ length: n }, () => new BudgetService(store, { now: clock.now })),
    cleanup: () => Promise.resolve(),
  };
};

const redis = (): Harness => {
  const prefix = uniqueRedisPrefix('budget');
  const clients: Redis[] = [];
  return {
    services: (n, clock) =>
      Array.from({ length: n }, () => {
        const c = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
        clients.push(c);
        const store: BudgetStore = new RedisBudgetStore(c, { prefix });
        return new BudgetService(store, { now: clock.now });
      }),
    cleanup: async () => {
      if (clients[0]) await deleteRedisPrefix(clients[0], prefix);
      await Promise.all(clients.map((c) => c.quit()));
    },
  };
};

const DOLLAR = 1_000_000;
const HOUR = 3_600_000;
let holdSeq = 0;
const hold = (
  over: Partial<ReserveRequest> & Pick<ReserveRequest, 'scopes' | 'amountMicros'>,
): ReserveRequest => ({
  holdId: `h${++holdSeq}`,
  ttlMs: 60_000,
  ...over,
});
const user = (id: string, limits: BudgetScope['limits']): BudgetScope => ({
  type: 'user',
  id,
  limits,
});

describe.each([
  ['in-process', inProcess],
  ['redis', redis],
] as const)('budget store contract: %s', (_name, make) => {
  let h: Harness;
  let clock: Clock;
  let svc: BudgetService;
  beforeEach(() => {
    h = make();
    clock = new Clock();
    [svc] = h.services(1, clock);
  });
  afterEach(() => h.cleanup());

  it('admits within the limit and rejects with the scope, period, spent, held and limit', async () => {
    const scopes = [user('u1', [{ period: 'day', limitMicros: 100 }])];
    expect(await svc.reserve(hold({ scopes, amountMicros: 60 }))).toEqual({ ok: true });
    expect(await svc.reserve(hold({ scopes, amountMicros: 40 }))).toEqual({ ok: true });
    expect(await svc.reserve(hold({ scopes, amountMicros: 1 }))).toEqual({
      ok: false,
      scope: { type: 'user', id: 'u1' },
      period: 'day',
      spentMicros: 0,
      heldMicros: 100,
      limitMicros: 100,
    });
  });

  it('places a hold in every scope or in none', async () => {
    const scopes: BudgetScope[] = [
      user('u2', [{ period: 'day', limitMicros: 1_000 }]),
      { type: 'account', id: 'a2', limits: [{ period: 'month', limitMicros: 50 }] },
      { type: 'key', id: 'k2', limits: [] },
    ];
    const r = await svc.reserve(hold({ scopes, amountMicros: 80 }));
    expect(r).toMatchObject({
      ok: false,
      scope: { type: 'account', id: 'a2' },
      period: 'month',
      limitMicros: 50,
    });
    expect((await svc.usage('user', 'u2', 'day')).heldMicros).toBe(0);
    expect((await svc.usage('key', 'k2', 'day')).heldMicros).toBe(0);
    expect(await svc.reserve(hold({ scopes, amountMicros: 50 }))).toEqual({ ok: true });
    expect((await svc.usage('user', 'u2', 'day')).heldMicros).toBe(50);
    expect((await svc.usage('key', 'k2', 'total')).heldMicros).toBe(50);
  });

  it('checks every period: a tight hourly limit rejects while the daily one has room', async () => {
    const scopes = [
      user('u3', [
        { period: 'day', limitMicros: 1_000 },
        { period: 'hour', limitMicros: 100 },
      ]),
    ];
    const h1 = hold({ scopes, amountMicros: 100 });
    expect(await svc.reserve(h1)).toEqual({ ok: true });
    await svc.settle(h1.holdId, 100);
    expect(await svc.reserve(hold({ scopes, amountMicros: 1 }))).toMatchObject({
      ok: false,
      period: 'hour',
      spentMicros: 100,
    });
    clock.advance(HOUR); // next hour bucket, same day
    expect(await svc.reserve(hold({ scopes, amountMicros: 1 }))).toEqual({ ok: true });
    expect((await svc.usage('user', 'u3', 'day')).spentMicros).toBe(100);
    expect((await svc.usage('user', 'u3', 'hour')).spentMicros).toBe(0);
  });

  it('settling lower than the hold frees the difference', async () => {
    const scopes = [user('u4', [{ period: 'day', limitMicros: 100 }])];
    const h1 = hold({ scopes, amountMicros: 60 });
    expect(await svc.reserve(h1)).toEqual({ ok: true });
    expect(await svc.reserve(hold({ scopes, amountMicros: 50 }))).toMatchObject({
      ok: false,
      heldMicros: 60,
    });
    expect(await svc.settle(h1.holdId, 20)).toBe(true);
    expect(await svc.usage('user', 'u4', 'day')).toEqual({ spentMicros: 20, heldMicros: 0 });
    expect(await svc.reserve(hold({ scopes, amountMicros: 50 }))).toEqual({ ok: true });
    expect(await svc.reserve(hold({ scopes, amountMicros: 31 }))).toMatchObject({
      ok: false,
      spentMicros: 20,
      heldMicros: 50,
    });
  });

  it('settling twice counts once; reserving the same hold twice holds once', async () => {
    const scopes = [user('u5', [{ period: 'total', limitMicros: 1_000 }])];
    const h1 = hold({ scopes, amountMicros: 300 });
    expect(await svc.reserve(h1)).toEqual({ ok: true });
    expect(await svc.reserve(h1)).toEqual({ ok: true });
    expect((await svc.usage('user', 'u5', 'total')).heldMicros).toBe(300);
    const settled = await Promise.all([svc.settle(h1.holdId, 250), svc.settle(h1.holdId, 250)]);
    expect(settled.sort()).toEqual([false, true]);
    expect(await svc.settle(h1.holdId, 250)).toBe(false);
    expect(await svc.usage('user', 'u5', 'total')).toEqual({ spentMicros: 250, heldMicros: 0 });
    expect(await svc.settle('never-reserved', 10)).toBe(false);
  });

  it('frees holds after their ttl (replica died) yet still counts a late settle', async () => {
    const scopes = [user('u6', [{ period: 'day', limitMicros: 100 }])];
    const h1 = hold({ scopes, amountMicros: 100, ttlMs: 5_000 });
    expect(await svc.reserve(h1)).toEqual({ ok: true });
    clock.advance(4_999);
    expect(await svc.reserve(hold({ scopes, amountMicros: 1 }))).toMatchObject({ ok: false });
    clock.advance(1);
    expect((await svc.usage('user', 'u6', 'day')).heldMicros).toBe(0);
    const h2 = hold({ scopes, amountMicros: 70 });
    expect(await svc.reserve(h2)).toEqual({ ok: true });
    // the first request did finish after all: its cost counts, h2's hold is untouched
    expect(await svc.settle(h1.holdId, 40)).toBe(true);
    expect(await svc.usage('user', 'u6', 'day')).toEqual({ spentMicros: 40, heldMicros: 70 });
  });

  it('adds settled cost to hour, day, month and total even without limits there', async () => {
    const h1 = hold({ scopes: [user('u7', [])], amountMicros: 10 });
    await svc.reserve(h1);
    await svc.settle(h1.holdId, 7);
    for (const p of ['hour', 'day', 'month', 'total'] as const) {
      expect((await svc.usage('user', 'u7', p)).spentMicros).toBe(7);
    }
    clock.advance(31 * 24 * HOUR); // next month
    expect((await svc.usage('user', 'u7', 'month')).spentMicros).toBe(0);
    expect((await svc.usage('user', 'u7', 'total')).spentMicros).toBe(7);
  });

  it('seedSpent raises the current bucket and never lowers it', async () => {
    await svc.seedSpent('account', 'a8', 'day', 500);
    await svc.seedSpent('account', 'a8', 'day', 300);
    expect((await svc.usage('account', 'a8', 'day')).spentMicros).toBe(500);
    const scopes: BudgetScope[] = [
      { type: 'account', id: 'a8', limits: [{ period: 'day', limitMicros: 600 }] },
    ];
    expect(await svc.reserve(hold({ scopes, amountMicros: 101 }))).toMatchObject({
      ok: false,
      spentMicros: 500,
    });
    await svc.seedSpent('account', 'a8', 'total', 9_000);
    expect((await svc.usage('account', 'a8', 'total')).spentMicros).toBe(9_000);
  });

  it('rebuilds spend from the ledger per period start', async () => {
    const since: Array<[string, string]> = [];
    const ledger = {
      spentSince: (type: string, id: string, d: Date) => {
        since.push([`${type}:${id}`, d.toISOString()]);
        return Promise.resolve(d.getTime() === 0 ? 900 : 300);
      },
    };
    await svc.rebuildFromLedger(ledger, [{ type: 'key', id: 'k9' }]);
    expect(since.map(([, d]) => d)).toEqual([
      '2026-03-10T10:00:00.000Z',
      '2026-03-10T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
      '1970-01-01T00:00:00.000Z',
    ]);
    expect((await svc.usage('key', 'k9', 'hour')).spentMicros).toBe(300);
    expect((await svc.usage('key', 'k9', 'total')).spentMicros).toBe(900);
  });

  it('200 concurrent $0.01 holds against a $1.00 daily budget from 3 replicas: exactly 100 admitted', async () => {
    const replicas = h.services(3, clock);
    const scopes = [
      user('u10', [{ period: 'day', limitMicros: DOLLAR }]),
      {
        type: 'account' as const,
        id: 'a10',
        limits: [{ period: 'day' as const, limitMicros: 10 * DOLLAR }],
      },
    ];
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        replicas[i % 3].reserve(hold({ scopes, amountMicros: DOLLAR / 100, holdId: `c${i}` })),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    expect(await svc.usage('user', 'u10', 'day')).toEqual({ spentMicros: 0, heldMicros: DOLLAR });
    // settle everything at full cost from other replicas: spend lands exactly on the limit
    await Promise.all(
      results.map((r, i) =>
        r.ok ? replicas[(i + 1) % 3].settle(`c${i}`, DOLLAR / 100) : Promise.resolve(false),
      ),
    );
    expect(await svc.usage('user', 'u10', 'day')).toEqual({ spentMicros: DOLLAR, heldMicros: 0 });
    expect(await svc.usage('account', 'a10', 'day')).toEqual({
      spentMicros: DOLLAR,
      heldMicros: 0,
    });
  });
});

describe('BudgetService input checks and messages', () => {
  const svc = new BudgetService(new InProcessBudgetStore());
  it('rejects malformed amounts (as a rejected promise) before touching the store', async () => {
    await expect(
      svc.reserve({ holdId: 'x', scopes: [], amountMicros: -1, ttlMs: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(
      svc.reserve({ holdId: 'x', scopes: [], amountMicros: 1.5, ttlMs: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(
      svc.reserve({ holdId: 'x', scopes: [], amountMicros: 1, ttlMs: 0 }),
    ).rejects.toThrow(RangeError);
    await expect(
      svc.reserve({ holdId: '', scopes: [], amountMicros: 1, ttlMs: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(svc.settle('x', Number.NaN)).rejects.toThrow(RangeError);
  });

  it('formats micro-dollars exactly and names period, spend and limit', () => {
    expect(formatMicros(1_000_000)).toBe('$1.00');
    expect(formatMicros(10_000)).toBe('$0.01');
    expect(formatMicros(1_234_567)).toBe('$1.234567');
    expect(formatMicros(0)).toBe('$0.00');
    expect(
      describeRejection({
        ok: false,
        scope: { type: 'user', id: 'u' },
        period: 'day',
        spentMicros: 990_000,
        heldMicros: 10_000,
        limitMicros: 1_000_000,
      }),
    ).toBe(
      'daily budget of user exceeded: $0.99 spent and $0.01 reserved by requests in progress of a $1.00 limit',
    );
  });
});
