import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withLagAwareDeadline } from './lag-aware-deadline';
import type { LimitStore } from './limit-store.port';
import { ADJUST_LUA, CHECK_LUA, RELEASE_LUA, RENEW_LUA, RETAKE_LUA } from './redis-limit.scripts';
import {
  LIMIT_NAMES,
  type LimitName,
  type LimitState,
  type StoreCheckInput,
  type StoreCheckResult,
  type Subject,
} from './rate-limit.types';

export interface RedisLimitStoreOptions {
  /**
   * Prepended to every key. The store adds a hash tag after it so all
   * rate-limit keys share one Redis Cluster slot (one script touches several
   * subjects).
   */
  keyPrefix?: string;
  /**
   * The hash tag after the prefix (default `rl`). Give it the budget store's
   * tag to let one script check limits and place a budget hold together.
   */
  hashTag?: string;
  /** a call slower than this fails (and the service applies its failure policy) */
  timeoutMs?: number;
}

type Reply = Array<number | string>;

interface ScriptCommands {
  sbRateLimitCheck(numKeys: number, ...args: Array<string | number>): Promise<Reply>;
  sbRateLimitAdjust(numKeys: number, ...args: Array<string | number>): Promise<number>;
  sbRateLimitRelease(numKeys: number, ...args: Array<string | number>): Promise<number>;
  sbRateLimitRenew(numKeys: number, ...args: Array<string | number>): Promise<number>;
  sbRateLimitRetake(numKeys: number, ...args: Array<string | number>): Promise<number>;
}

export class RateLimitTimeoutError extends Error {
  constructor(ms: number) {
    super(`rate-limit store did not answer within ${ms} ms`);
    this.name = 'RateLimitTimeoutError';
  }
}

/**
 * Limit store shared by every replica. Each operation is one Lua script
 * (EVALSHA via ioredis `defineCommand`), so a check reads and charges all
 * subjects atomically: 50/min stays 50/min however many replicas ask at once.
 * Algorithm as in MemoryLimitStore: sliding log per limit, lease set for streams.
 */
export class RedisLimitStore implements LimitStore {
  readonly backend = 'redis' as const;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly cmd: ScriptCommands;

  constructor(
    private readonly redis: Redis,
    opts: RedisLimitStoreOptions = {},
  ) {
    this.prefix = `${opts.keyPrefix ?? 'sb:rl:'}{${opts.hashTag ?? 'rl'}}:`;
    this.timeoutMs = opts.timeoutMs ?? 500;
    // defineCommand is idempotent per client; several stores may share one
    // client. No numberOfKeys: every call passes its key count first.
    redis.defineCommand('sbRateLimitCheck', { lua: CHECK_LUA });
    redis.defineCommand('sbRateLimitAdjust', { lua: ADJUST_LUA });
    redis.defineCommand('sbRateLimitRelease', { lua: RELEASE_LUA });
    redis.defineCommand('sbRateLimitRenew', { lua: RENEW_LUA });
    redis.defineCommand('sbRateLimitRetake', { lua: RETAKE_LUA });
    this.cmd = redis as unknown as ScriptCommands;
  }

  async check(input: StoreCheckInput): Promise<StoreCheckResult> {
    const call = this.prepareCheck(input);
    const reply = await this.withTimeout(
      this.cmd.sbRateLimitCheck(call.keys.length, ...call.keys, ...call.args),
    );
    return call.read(reply);
  }

  /**
   * The keys and arguments of `CHECK_LUA` for `input`, and how to read its
   * reply: for a caller that runs the check inside a larger script
   * (admission in one round trip).
   */
  prepareCheck(input: StoreCheckInput): {
    keys: string[];
    args: Array<string | number>;
    read(reply: unknown[]): StoreCheckResult;
  } {
    const keys: string[] = [];
    const args: Array<string | number> = [
      input.windowMs,
      input.leaseMs,
      input.slotId,
      Math.max(0, Math.ceil(input.estimatedTokens)),
      randomUUID(),
      input.subjects.length,
    ];
    const enforced: Array<{ subject: Subject; limit: LimitName; max: number }> = [];
    for (const { subject, limits } of input.subjects) {
      keys.push(...this.subjectKeys(subject));
      for (const limit of LIMIT_NAMES) {
        const max = limits[limit];
        args.push(max === undefined ? -1 : max);
        if (max !== undefined) enforced.push({ subject, limit, max });
      }
    }
    keys.push(this.slotKey(input.slotId));
    const read = (reply: unknown[]): StoreCheckResult => {
      const nums = reply.map(Number);
      const states: LimitState[] = enforced.map((e, i) => {
        const resetMs = nums[3 + i * 2 + 1];
        return {
          ...e,
          remaining: nums[3 + i * 2],
          ...(resetMs >= 0 ? { resetMs } : {}),
        };
      });
      if (nums[0] === 1) return { allowed: true, states };
      const f = enforced[nums[1] - 1];
      return {
        allowed: false,
        states,
        failed: { subject: f.subject, limit: f.limit },
        retryAfterMs: nums[2],
      };
    };
    return { keys, args, read };
  }

  async adjustTokens(
    subject: Subject,
    delta: number,
    windowMs: number,
    chargeId?: string,
  ): Promise<void> {
    const call = this.prepareAdjust(subject, delta, windowMs, chargeId);
    await this.withTimeout(this.cmd.sbRateLimitAdjust(2, ...call.keys, ...call.args));
  }

  /** the keys (tok, tkw) and arguments of `ADJUST_LUA`: for a caller that runs it in a larger script */
  prepareAdjust(
    subject: Subject,
    delta: number,
    windowMs: number,
    chargeId?: string,
  ): { keys: [string, string]; args: Array<string | number> } {
    const [, tok, tkw] = this.subjectKeys(subject);
    return {
      keys: [tok, tkw],
      args: [windowMs, Math.trunc(delta), chargeId ?? '', randomUUID()],
    };
  }

  async release(slotId: string): Promise<void> {
    await this.withTimeout(this.cmd.sbRateLimitRelease(1, this.slotKey(slotId), slotId));
  }

  async renew(slotId: string, leaseMs: number): Promise<boolean> {
    const live = await this.withTimeout(
      this.cmd.sbRateLimitRenew(1, this.slotKey(slotId), slotId, leaseMs),
    );
    return Number(live) === 1;
  }

  async retake(slotId: string, leaseMs: number, holders: readonly Subject[]): Promise<void> {
    if (holders.length === 0) return;
    const keys = [this.slotKey(slotId), ...new Set(holders.map((s) => this.subjectKeys(s)[3]))];
    await this.withTimeout(this.cmd.sbRateLimitRetake(keys.length, ...keys, slotId, leaseMs));
  }

  private subjectKeys(subject: Subject): [string, string, string, string] {
    const p = this.prefix;
    return [`${p}req:${subject}`, `${p}tok:${subject}`, `${p}tkw:${subject}`, `${p}str:${subject}`];
  }

  /** the slot set key (`RELEASE_LUA`'s KEYS[1]) of `slotId` */
  slotKey(slotId: string): string {
    return `${this.prefix}slot:${slotId}`;
  }

  /** the store's deadline on `p` (lag-aware: a stalled event loop does not count) */
  withTimeout<T>(p: Promise<T>): Promise<T> {
    return withLagAwareDeadline(p, this.timeoutMs, () => new RateLimitTimeoutError(this.timeoutMs));
  }
}
