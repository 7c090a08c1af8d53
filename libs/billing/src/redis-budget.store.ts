import type { Redis } from 'ioredis';
import type { BudgetPeriod, ScopeType } from './billing.types';
import { HOLD_RECORD_GRACE_MS, SPENT_TTL_MS } from './budget-periods';
import {
  BudgetStoreUnseededError,
  type BudgetStore,
  type StoreReserve,
  type StoreSettle,
} from './budget-store.port';
import type { ReserveResult, ScopeUsage } from './budget.types';

/*
 * Key layout (P = prefix, which carries a {hash tag} so that on Redis Cluster
 * every budget key lives in one slot and the scripts stay atomic):
 *   P holds:<type>:<id>      ZSET  holdId -> expiry ms
 *   P holdamt:<type>:<id>    HASH  holdId -> amount
 *   P held:<type>:<id>       STRING sum of open holds of the scope
 *   P spent:<bucket>:<type>:<id>  STRING micro-dollars spent in that period bucket
 *   P hold:<holdId>          STRING JSON {scopes:[[type,id],...]}, what settle needs
 *   P seeded                 STRING JSON {at, evicted}, set once spend was seeded from the
 *                            ledger; its absence means the store lost its data (requireSeed
 *                            mode). `evicted` is the instance's evicted_keys count when the
 *                            seeding started: any eviction after it drops the marker.
 * The scope id comes last so ids containing ':' cannot collide.
 */

const LUA_PRUNE = `
local function prune(P, base, now)
  local z, h, s = P .. 'holds:' .. base, P .. 'holdamt:' .. base, P .. 'held:' .. base
  local expired = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #expired > 0 then
    local total = 0
    for _, hid in ipairs(expired) do
      local a = redis.call('HGET', h, hid)
      if a then total = total + tonumber(a) end
      redis.call('HDEL', h, hid)
    end
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    if total > 0 and redis.call('DECRBY', s, string.format('%.0f', total)) <= 0 then
      redis.call('DEL', s)
    end
  end
  return tonumber(redis.call('GET', s) or '0')
end
`;

// KEYS[1] hold record. ARGV: prefix, holdId, amount, now, expiresAt, recordTtlMs,
// hour, day, month buckets, record JSON, nScopes, then per scope: type, id, nLimits, (period, limit)*
// `restore` places the hold whatever the limits and the seed marker say;
// `requireSeed` refuses with {2} while the seed marker is missing.
export const reserveLua = (restore: boolean, requireSeed: boolean): string => `${LUA_PRUNE}
local RESTORE, REQUIRE_SEED = ${restore}, ${requireSeed}
local P, hid, amount, now, expiresAt = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if redis.call('EXISTS', KEYS[1]) == 1 then return {1} end
-- no seed marker: the store lost its data; refuse until spend is re-seeded
if REQUIRE_SEED and not RESTORE and redis.call('EXISTS', P .. 'seeded') == 0 then return {2} end
local buckets = { hour = ARGV[7], day = ARGV[8], month = ARGV[9], total = 'total' }
local n = tonumber(ARGV[11])
local i = 12
local bases = {}
for s = 1, n do
  local stype, sid, nl = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  local base = stype .. ':' .. sid
  bases[s] = base
  local held = prune(P, base, now)
  for l = 1, nl do
    local period, limit = ARGV[i], tonumber(ARGV[i + 1])
    i = i + 2
    local spent = tonumber(redis.call('GET', P .. 'spent:' .. buckets[period] .. ':' .. base) or '0')
    if not RESTORE and spent + held + amount > limit then
      return {0, stype, sid, period, spent, held, limit}
    end
  end
end
local ttl = tonumber(expiresAt) - now + 60000
for _, base in ipairs(bases) do
  local z, h, s = P .. 'holds:' .. base, P .. 'holdamt:' .. base, P .. 'held:' .. base
  redis.call('ZADD', z, expiresAt, hid)
  redis.call('HSET', h, hid, ARGV[3])
  redis.call('INCRBY', s, ARGV[3])
  -- the hold bookkeeping vanishes on its own once every hold in it has expired
  for _, k in ipairs({z, h, s}) do
    if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
  end
end
redis.call('SET', KEYS[1], ARGV[10], 'PX', ARGV[6])
return {1}
`;

// KEYS[1] hold record. ARGV: prefix, holdId, actual, hour, day, month buckets, hour/day/month TTLs
export const LUA_SETTLE = `
local P, hid, actual = ARGV[1], ARGV[2], ARGV[3]
local rec = redis.call('GET', KEYS[1])
if not rec then return 0 end
local scopes = cjson.decode(rec).scopes
local periods = { {ARGV[4], ARGV[7]}, {ARGV[5], ARGV[8]}, {ARGV[6], ARGV[9]}, {'total', nil} }
for _, sc in ipairs(scopes) do
  local base = sc[1] .. ':' .. sc[2]
  local z, h, s = P .. 'holds:' .. base, P .. 'holdamt:' .. base, P .. 'held:' .. base
  local a = redis.call('HGET', h, hid)
  if a then
    redis.call('HDEL', h, hid)
    redis.call('ZREM', z, hid)
    if redis.call('DECRBY', s, a) <= 0 then redis.call('DEL', s) end
  end
  if tonumber(actual) > 0 then
    for _, p in ipairs(periods) do
      local k = P .. 'spent:' .. p[1] .. ':' .. base
      redis.call('INCRBY', k, actual)
      if p[2] then redis.call('PEXPIRE', k, p[2]) end
    end
  end
end
redis.call('DEL', KEYS[1])
return 1
`;

// KEYS[1] spent key. ARGV: micros, ttl ms ('' = none). Raises, never lowers.
const LUA_SEED = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  if ARGV[2] ~= '' then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[1])
  end
end
return 1
`;

// KEYS: none. ARGV: prefix, base, bucket, now
const LUA_USAGE = `${LUA_PRUNE}
local held = prune(ARGV[1], ARGV[2], tonumber(ARGV[4]))
local spent = tonumber(redis.call('GET', ARGV[1] .. 'spent:' .. ARGV[3] .. ':' .. ARGV[2]) or '0')
return {spent, held}
`;

// KEYS[1] seed marker. ARGV: the value read. Deletes it unless it changed meanwhile.
const LUA_DROP_SEED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type ScriptReply = Array<string | number>;

interface BudgetCommands {
  sbBudgetReserve(key: string, ...args: Array<string | number>): Promise<ScriptReply>;
  sbBudgetReserveSeeded(key: string, ...args: Array<string | number>): Promise<ScriptReply>;
  sbBudgetRestore(key: string, ...args: Array<string | number>): Promise<ScriptReply>;
  sbBudgetSettle(key: string, ...args: Array<string | number>): Promise<number>;
  sbBudgetSeed(key: string, ...args: Array<string | number>): Promise<number>;
  sbBudgetUsage(...args: Array<string | number>): Promise<[number, number]>;
  sbBudgetDropSeed(key: string, value: string): Promise<number>;
}

export interface RedisBudgetStoreOptions {
  /** key prefix; keep a {hash tag} in it for Redis Cluster (default `sb:{budget}:`) */
  prefix?: string;
  /**
   * Refuse reservations (`BudgetStoreUnseededError`) while the seed marker is
   * missing, i.e. after Redis lost its data, until spend is re-seeded. The
   * gateway sets it; a bare store (tests, tools) works without seeding.
   */
  requireSeed?: boolean;
}

/**
 * Budgets shared by every replica. One Lua script per reserve and one per
 * settle (EVALSHA through ioredis `defineCommand`), so check-and-hold is atomic
 * across replicas and a budget is never overspent by concurrent requests.
 * Expiry uses the callers' clocks (score = now + ttl), so replica clock skew
 * shifts hold expiry by that skew, never the accounting.
 */
export class RedisBudgetStore implements BudgetStore {
  private readonly prefix: string;
  private readonly cmd: BudgetCommands;
  /** whether reservations are refused while the seed marker is missing */
  readonly requireSeed: boolean;

  constructor(
    private readonly client: Redis,
    opts: RedisBudgetStoreOptions = {},
  ) {
    this.prefix = opts.prefix ?? 'sb:{budget}:';
    this.requireSeed = opts.requireSeed ?? false;
    client.defineCommand('sbBudgetReserve', { numberOfKeys: 1, lua: reserveLua(false, false) });
    client.defineCommand('sbBudgetReserveSeeded', {
      numberOfKeys: 1,
      lua: reserveLua(false, true),
    });
    client.defineCommand('sbBudgetRestore', { numberOfKeys: 1, lua: reserveLua(true, false) });
    client.defineCommand('sbBudgetSettle', { numberOfKeys: 1, lua: LUA_SETTLE });
    client.defineCommand('sbBudgetSeed', { numberOfKeys: 1, lua: LUA_SEED });
    // reads keys derived from ARGV; only used for reporting and tests
    client.defineCommand('sbBudgetUsage', { numberOfKeys: 0, lua: LUA_USAGE, readOnly: false });
    client.defineCommand('sbBudgetDropSeed', { numberOfKeys: 1, lua: LUA_DROP_SEED });
    this.cmd = client as unknown as BudgetCommands;
  }

  async isSeeded(): Promise<boolean> {
    return !this.requireSeed || (await this.client.exists(this.seedKey())) === 1;
  }

  /** the instance's evicted_keys count ('' where INFO is unavailable) */
  async seedStamp(): Promise<string> {
    const n = await this.evictedKeys();
    return n === undefined ? '' : String(n);
  }

  async markSeeded(stamp = ''): Promise<void> {
    await this.client.set(this.seedKey(), JSON.stringify({ at: Date.now(), evicted: stamp }));
  }

  /**
   * Eviction takes single keys: a spend counter or a hold can vanish while the
   * seed marker stays. Budget keys cannot be told apart from the instance's
   * other keys in Redis's count, so any eviction since the last seeding is
   * treated as lost budget data: the marker is dropped (every replica then
   * refuses reservations until spend and holds are re-seeded). True when it
   * dropped the marker. Does nothing where INFO is unavailable.
   */
  async dropSeedIfEvicted(): Promise<boolean> {
    if (!this.requireSeed) return false;
    const raw = await this.client.get(this.seedKey());
    if (raw === null) return false;
    let baseline: number | undefined;
    try {
      const v = (JSON.parse(raw) as { evicted?: unknown }).evicted;
      if (typeof v === 'string' && /^\d+$/.test(v)) baseline = Number(v);
    } catch {
      // a marker of another format: nothing to compare with
    }
    if (baseline === undefined) return false;
    const now = await this.evictedKeys();
    if (now === undefined) return false;
    // a lower count means the counter was reset (restart, CONFIG RESETSTAT): all of it is new
    const evicted = now >= baseline ? now - baseline : now;
    if (evicted === 0) return false;
    return (await this.cmd.sbBudgetDropSeed(this.seedKey(), raw)) === 1;
  }

  private async evictedKeys(): Promise<number | undefined> {
    try {
      const m = /^evicted_keys:(\d+)/m.exec(await this.client.info('stats'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined; // INFO disabled
    }
  }

  async restoreHold(req: StoreReserve): Promise<void> {
    await this.cmd.sbBudgetRestore(this.holdKey(req.holdId), ...this.reserveArgs(req));
  }

  async reserve(req: StoreReserve): Promise<ReserveResult> {
    const call = this.prepareReserve(req);
    const r = this.requireSeed
      ? await this.cmd.sbBudgetReserveSeeded(call.key, ...call.args)
      : await this.cmd.sbBudgetReserve(call.key, ...call.args);
    return call.read(r);
  }

  /**
   * The key and arguments of the reserve script (`reserveLua(false,
   * requireSeed)`) for `req`, and how to read its reply: for a caller that
   * places the hold inside a larger script (admission in one round trip).
   */
  prepareReserve(req: StoreReserve): {
    key: string;
    args: Array<string | number>;
    read(reply: unknown[]): ReserveResult;
  } {
    return {
      key: this.holdKey(req.holdId),
      args: this.reserveArgs(req),
      read: (r) => {
        if (Number(r[0]) === 2) throw new BudgetStoreUnseededError();
        if (Number(r[0]) === 1) return { ok: true };
        return {
          ok: false,
          scope: { type: String(r[1]) as ScopeType, id: String(r[2]) },
          period: String(r[3]) as BudgetPeriod,
          spentMicros: Number(r[4]),
          heldMicros: Number(r[5]),
          limitMicros: Number(r[6]),
        };
      },
    };
  }

  private reserveArgs(req: StoreReserve): Array<string | number> {
    const args: Array<string | number> = [
      this.prefix,
      req.holdId,
      req.amountMicros,
      req.nowMs,
      req.expiresAtMs,
      Math.max(1, req.expiresAtMs - req.nowMs + HOLD_RECORD_GRACE_MS),
      req.buckets.hour,
      req.buckets.day,
      req.buckets.month,
      JSON.stringify({ scopes: req.scopes.map((s) => [s.type, s.id]) }),
      req.scopes.length,
    ];
    for (const s of req.scopes) {
      args.push(s.type, s.id, s.limits.length);
      for (const l of s.limits) args.push(l.period, l.limitMicros);
    }
    return args;
  }

  async settle(req: StoreSettle): Promise<boolean> {
    const call = this.prepareSettle(req);
    const r = await this.cmd.sbBudgetSettle(call.key, ...call.args);
    return Number(r) === 1;
  }

  /** the key and arguments of `LUA_SETTLE` for `req`: for a caller that settles inside a larger script */
  prepareSettle(req: StoreSettle): { key: string; args: Array<string | number> } {
    return {
      key: this.holdKey(req.holdId),
      args: [
        this.prefix,
        req.holdId,
        req.actualMicros,
        req.buckets.hour,
        req.buckets.day,
        req.buckets.month,
        SPENT_TTL_MS.hour,
        SPENT_TTL_MS.day,
        SPENT_TTL_MS.month,
      ],
    };
  }

  async seedSpent(
    scopeType: ScopeType,
    scopeId: string,
    period: BudgetPeriod,
    bucket: string,
    micros: number,
  ): Promise<void> {
    await this.cmd.sbBudgetSeed(
      `${this.prefix}spent:${bucket}:${scopeType}:${scopeId}`,
      micros,
      period === 'total' ? '' : SPENT_TTL_MS[period],
    );
  }

  async usage(
    scopeType: ScopeType,
    scopeId: string,
    bucket: string,
    nowMs: number,
  ): Promise<ScopeUsage> {
    const [spent, held] = await this.cmd.sbBudgetUsage(
      this.prefix,
      `${scopeType}:${scopeId}`,
      bucket,
      nowMs,
    );
    return { spentMicros: Number(spent), heldMicros: Number(held) };
  }

  private seedKey(): string {
    return `${this.prefix}seeded`;
  }

  private holdKey(holdId: string): string {
    return `${this.prefix}hold:${holdId}`;
  }
}
