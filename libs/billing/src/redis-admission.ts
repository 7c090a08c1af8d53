import type { Redis } from 'ioredis';
import {
  ADJUST_LUA,
  CHECK_LUA,
  RELEASE_LUA,
  RedisLimitsVersion,
  RedisLimitStore,
  UNCHECK_LUA,
  type LimitStore,
  type LimitsVersion,
  type StoreCheckInput,
  type StoreCheckResult,
  type Subject,
} from '@switchboard/rate-limit';
import type { BudgetStore, StoreReserve, StoreSettle } from './budget-store.port';
import type { ReserveResult } from './budget.types';
import { LUA_SETTLE, RedisBudgetStore, reserveLua } from './redis-budget.store';

/**
 * KEYS: the limits-version key, the hold record key, then the limit check's keys.
 * ARGV: the version the caller's settings were loaded at ('' = not known),
 *       the number of limit-check arguments, those arguments, then the hold's
 *       (none: no hold).
 * Returns {'stale', current} when the version moved (nothing done); otherwise
 * {outcome, current, check reply[, hold reply]} with outcome 'limited' (the
 * limits refused: no hold), 'hold' (the budget refused: the limit charge taken
 * back) or 'ok'.
 */
const admitLua = (requireSeed: boolean) => `
local function check(KEYS, ARGV)
${CHECK_LUA}
end
local function uncheck(KEYS, ARGV)
${UNCHECK_LUA}
end
local function hold(KEYS, ARGV)
${reserveLua(false, requireSeed)}
end
local current = redis.call('GET', KEYS[1]) or 'unset'
if ARGV[1] ~= '' and ARGV[1] ~= current then return {'stale', current} end
local nc = tonumber(ARGV[2])
local ckeys, cargs, hargs = {}, {}, {}
for i = 3, #KEYS do ckeys[#ckeys + 1] = KEYS[i] end
for i = 1, nc do cargs[i] = ARGV[2 + i] end
for i = 3 + nc, #ARGV do hargs[#hargs + 1] = ARGV[i] end
local c = {1}
if nc > 0 then
  c = check(ckeys, cargs)
  if tonumber(c[1]) ~= 1 then return {'limited', current, c} end
end
if #hargs == 0 then return {'ok', current, c} end
local h = hold({KEYS[2]}, hargs)
if tonumber(h[1]) ~= 1 then
  if nc > 0 then uncheck(ckeys, cargs) end
  return {'hold', current, c, h}
end
return {'ok', current, c, h}
`;

/**
 * KEYS: the slot set, the hold record key, then tok and tkw of every subject
 * whose token charge is corrected.
 * ARGV: slotId, the number of correction arguments (4 per subject), those
 *       arguments, then the settlement's (none: no hold).
 * Returns 1 when it settled the hold.
 */
const FINISH_LUA = `
local function release(KEYS, ARGV)
${RELEASE_LUA}
end
local function adjust(KEYS, ARGV)
${ADJUST_LUA}
end
local function settle(KEYS, ARGV)
${LUA_SETTLE}
end
release({KEYS[1]}, {ARGV[1]})
local na = tonumber(ARGV[2])
for i = 1, na / 4 do
  local a = 2 + (i - 1) * 4
  adjust({KEYS[1 + i * 2], KEYS[2 + i * 2]}, {ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]})
end
if #ARGV <= 2 + na then return 0 end
local sargs = {}
for i = 3 + na, #ARGV do sargs[#sargs + 1] = ARGV[i] end
return settle({KEYS[2]}, sargs)
`;

export type AtomicAdmissionResult =
  | { outcome: 'stale'; version: string }
  | {
      outcome: 'ok' | 'limited' | 'hold';
      version: string;
      /** undefined when no limit was checked */
      limits?: StoreCheckResult;
      /** undefined when no hold was asked for, or the limits refused */
      hold?: ReserveResult;
    };

type AdmitCommand = (numKeys: number, ...args: Array<string | number>) => Promise<unknown[]>;

/**
 * Admission in one Redis round trip: the limits version, the rate limits and
 * the budget hold are checked and charged by one script, atomically. The hold
 * is placed only if the limits admit; if the budget refuses, the limit charge
 * is taken back in the same script. A caller whose cached settings are older
 * than the current limits version gets 'stale' and nothing is charged.
 *
 * All keys share one Redis Cluster slot: the limit store must use the budget
 * store's hash tag (see `RedisLimitStoreOptions.hashTag`).
 */
export class RedisAdmission {
  readonly #command: AdmitCommand;
  readonly #finish: (numKeys: number, ...args: Array<string | number>) => Promise<unknown>;

  constructor(
    redis: Redis,
    private readonly limits: RedisLimitStore,
    private readonly budgets: RedisBudgetStore,
    private readonly version: RedisLimitsVersion,
  ) {
    const requireSeed = budgets.requireSeed;
    const name = requireSeed ? 'sbAdmitSeeded' : 'sbAdmit';
    redis.defineCommand(name, { lua: admitLua(requireSeed) });
    redis.defineCommand('sbAdmissionFinish', { lua: FINISH_LUA });
    const r = redis as unknown as Record<string, AdmitCommand>;
    this.#command = (...args) => r[name].call(redis, ...args);
    this.#finish = (...args) => r.sbAdmissionFinish.call(redis, ...args);
  }

  /**
   * Everything a finished request gives back, in one round trip: its stream
   * slot, the correction of its token charge on every subject (`delta` =
   * actual - estimate, 0 = none) and the settlement of its hold. True when this
   * call settled the hold.
   */
  async finish(
    slotId: string,
    subjects: readonly Subject[],
    delta: number,
    windowMs: number,
    settle: StoreSettle | undefined,
  ): Promise<boolean> {
    const slotKey = this.limits.slotKey(slotId);
    const s = settle ? this.budgets.prepareSettle(settle) : undefined;
    // without a hold the slot key stands in for the hold record (the script does not read it)
    const keys = [slotKey, s?.key ?? slotKey];
    const adjust: Array<string | number> = [];
    if (Number.isFinite(delta) && Math.trunc(delta) !== 0)
      for (const subject of subjects) {
        const a = this.limits.prepareAdjust(subject, delta, windowMs, slotId);
        keys.push(...a.keys);
        adjust.push(...a.args);
      }
    const reply = await this.limits.withTimeout(
      this.#finish(keys.length, ...keys, slotId, adjust.length, ...adjust, ...(s?.args ?? [])),
    );
    return Number(reply) === 1;
  }

  /**
   * `knownVersion`: the limits version `check` and `hold` were computed at
   * (undefined: not known; the script then does not compare).
   */
  async admit(
    knownVersion: string | undefined,
    check: StoreCheckInput | undefined,
    hold: StoreReserve | undefined,
  ): Promise<AtomicAdmissionResult> {
    const c = check ? this.limits.prepareCheck(check) : undefined;
    const h = hold ? this.budgets.prepareReserve(hold) : undefined;
    const keys = [this.version.key, h?.key ?? this.version.key, ...(c?.keys ?? [])];
    const args = [knownVersion ?? '', c?.args.length ?? 0, ...(c?.args ?? []), ...(h?.args ?? [])];
    const reply = await this.limits.withTimeout(this.#command(keys.length, ...keys, ...args));
    const outcome = String(reply[0]) as AtomicAdmissionResult['outcome'];
    const version = String(reply[1]);
    if (outcome === 'stale') return { outcome, version };
    return {
      outcome,
      version,
      limits: c?.read(reply[2] as unknown[]),
      hold: h && reply[3] !== undefined ? h.read(reply[3] as unknown[]) : undefined,
    };
  }
}

/** `RedisAdmission` when every admission store is on Redis, else null (admission step by step) */
export const ATOMIC_ADMISSION = Symbol('ATOMIC_ADMISSION');

export function atomicAdmission(
  redis: Redis | null,
  limits: LimitStore,
  budgets: BudgetStore,
  version: LimitsVersion,
): RedisAdmission | null {
  if (
    redis &&
    limits instanceof RedisLimitStore &&
    budgets instanceof RedisBudgetStore &&
    version instanceof RedisLimitsVersion
  )
    return new RedisAdmission(redis, limits, budgets, version);
  return null;
}
