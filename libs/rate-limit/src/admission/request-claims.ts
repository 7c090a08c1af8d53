import type { Clock } from '../limit-store.port';
import type { Redis } from 'ioredis';

/**
 * Which client request ids are in flight, per principal: a client's
 * `requestId` is a correlation id, unique among the caller's running requests.
 * The value of a claim is the server-owned id of the request holding it, so only
 * that request can renew or release it. Claims are leases: a replica that dies
 * without releasing frees them when the lease runs out.
 */
export interface RequestClaims {
  readonly backend: 'memory' | 'redis';
  /** true when `clientId` was free for `owner` and is now held by `serverId` */
  claim(owner: string, clientId: string, serverId: string, leaseMs: number): Promise<boolean>;
  /**
   * Extends the lease, taking the claim back if it lapsed meanwhile (a renewal
   * delayed past the lease by event-loop lag or a Redis blip): a request still
   * running keeps its id. False only when another request holds the id now.
   */
  renew(owner: string, clientId: string, serverId: string, leaseMs: number): Promise<boolean>;
  /** frees the claim if `serverId` still holds it */
  release(owner: string, clientId: string, serverId: string): Promise<void>;
}

/** Owner ids may contain ':'; a length prefix keeps (owner, clientId) pairs distinct. */
function claimKey(owner: string, clientId: string): string {
  return `${owner.length}:${owner}:${clientId}`;
}

const SWEEP_AT = 10_000;

/** Claims of one process (no REDIS_URL). */
export class MemoryRequestClaims implements RequestClaims {
  readonly backend = 'memory' as const;
  readonly #claims = new Map<string, { serverId: string; expiresAt: number }>();

  constructor(private readonly now: Clock = Date.now) {}

  claim(owner: string, clientId: string, serverId: string, leaseMs: number): Promise<boolean> {
    const k = claimKey(owner, clientId);
    const cur = this.#claims.get(k);
    const now = this.now();
    if (cur && cur.expiresAt > now) return Promise.resolve(false);
    if (this.#claims.size >= SWEEP_AT) this.#sweep(now);
    this.#claims.set(k, { serverId, expiresAt: now + leaseMs });
    return Promise.resolve(true);
  }

  renew(owner: string, clientId: string, serverId: string, leaseMs: number): Promise<boolean> {
    const k = claimKey(owner, clientId);
    const cur = this.#claims.get(k);
    const now = this.now();
    if (cur && cur.serverId !== serverId && cur.expiresAt > now) return Promise.resolve(false);
    this.#claims.set(k, { serverId, expiresAt: now + leaseMs });
    return Promise.resolve(true);
  }

  release(owner: string, clientId: string, serverId: string): Promise<void> {
    const k = claimKey(owner, clientId);
    if (this.#claims.get(k)?.serverId === serverId) this.#claims.delete(k);
    return Promise.resolve();
  }

  /** drops lapsed claims (only a request that never finished leaves one) */
  #sweep(now: number): void {
    for (const [k, c] of this.#claims) if (c.expiresAt <= now) this.#claims.delete(k);
  }

  get size(): number {
    return this.#claims.size;
  }
}

// KEYS[1] claim. ARGV: serverId, leaseMs. Only the holder may extend or delete;
// a lapsed claim is taken back by the request that held it.
const RENEW_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface ClaimCommands {
  sbClaimRenew(key: string, serverId: string, leaseMs: number): Promise<number>;
  sbClaimRelease(key: string, serverId: string): Promise<number>;
}

/**
 * Claims shared by every replica: `SET NX PX`, compare-and-renew, compare-and-delete.
 * A renewal sent before the release reaches Redis before it (one connection, in
 * order), so a finished request never re-takes its id.
 */
export class RedisRequestClaims implements RequestClaims {
  readonly backend = 'redis' as const;
  readonly #cmd: ClaimCommands;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'sb:claim:',
  ) {
    redis.defineCommand('sbClaimRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    redis.defineCommand('sbClaimRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.#cmd = redis as unknown as ClaimCommands;
  }

  async claim(owner: string, clientId: string, serverId: string, leaseMs: number) {
    const r = await this.redis.set(this.#key(owner, clientId), serverId, 'PX', leaseMs, 'NX');
    return r === 'OK';
  }

  async renew(owner: string, clientId: string, serverId: string, leaseMs: number) {
    return (await this.#cmd.sbClaimRenew(this.#key(owner, clientId), serverId, leaseMs)) === 1;
  }

  async release(owner: string, clientId: string, serverId: string): Promise<void> {
    await this.#cmd.sbClaimRelease(this.#key(owner, clientId), serverId);
  }

  #key(owner: string, clientId: string): string {
    return this.prefix + claimKey(owner, clientId);
  }
}
