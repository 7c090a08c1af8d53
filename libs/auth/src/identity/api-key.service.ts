import { hash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AppError } from '@switchboard/common';
import type { PrincipalLimits } from '../principal';
import { ApiKeyError } from './api-key.errors';
import { apiKeyPrefix, generateApiKey, hashApiKey } from './api-key.format';
import type { ApiKeyFilter, ApiKeyRepository, ApiKeyRow } from './api-key.repository';
import {
  limitsSchema,
  scopesSchema,
  type ApiKeyRecord,
  type CreateApiKeyInput,
} from './identity.types';
import { LruCache } from './lru-cache';

/** A key's row as cached, with the SHA-256 of the plaintext that last passed the HMAC check. */
interface CachedKey {
  row: ApiKeyRow;
  /** what `verify` answers for the row: made once per read, frozen as it is shared */
  view: ApiKeyRecord;
  hash: Buffer;
  verified?: Buffer;
  /** when the row was read (the service's clock) */
  loadedAt: number;
  /** a read of a fresher row is under way */
  refreshing?: boolean;
}

export interface ApiKeyServiceOptions {
  /** server secret keying the HMAC; the same on every replica, at least 32 chars */
  secret: string;
  /**
   * How long a verified key row is reused from memory (default 5 s). This is
   * the staleness window for revocation on *other* replicas: a key revoked on
   * replica A keeps working on replica B for at most this long. The revoking
   * replica drops it at once.
   */
  cacheTtlMs?: number;
  /** cache bound (default 10 000 keys) */
  cacheMaxEntries?: number;
  /** last-used times are written every this many ms (default 30 s; 0 = only on flushLastUsed) */
  lastUsedFlushMs?: number;
  clock?: () => number;
  logger?: Pick<Logger, 'warn'>;
}

/**
 * Restricts an operation to one owner's keys (tenant isolation): a key of
 * someone else is reported as not found, never as forbidden, so ids of other
 * tenants cannot be probed. Omit for admin access.
 */
/**
 * How many keys may stand above a key minted through self-service (a key minted
 * by a key minted by a key...). Admission follows the whole chain; a deeper
 * one could not be bounded by its top, so minting stops there.
 */
export const MAX_MINTING_ANCESTORS = 8;

export interface ApiKeyAccess {
  ownerUserId?: string;
}

export interface IssuedApiKey {
  /** the plaintext key: returned once, never stored */
  key: string;
  record: ApiKeyRecord;
}

/**
 * API keys: issue, verify, list, revoke, rotate. Only HMAC-SHA256(secret, key)
 * is stored. Verification is a prefix lookup (memory first) plus a
 * constant-time hash comparison; last-used times are batched.
 */
export class ApiKeyService {
  private readonly cache: LruCache<string, CachedKey>;
  private readonly clock: () => number;
  private readonly logger: Pick<Logger, 'warn'>;
  private readonly pendingTouches = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** a key in use is read again in the background once its row is this old (half the TTL) */
  private readonly refreshAfterMs: number;
  /** compared against when the prefix is unknown, so both paths cost one comparison */
  private readonly dummyHash: Buffer;

  constructor(
    private readonly repo: ApiKeyRepository,
    private readonly opts: ApiKeyServiceOptions,
  ) {
    if (!opts.secret || opts.secret.length < 32) {
      throw new Error('API key secret must be at least 32 characters');
    }
    this.clock = opts.clock ?? Date.now;
    this.logger = opts.logger ?? new Logger('ApiKeys');
    const ttlMs = opts.cacheTtlMs ?? 5_000;
    this.cache = new LruCache(opts.cacheMaxEntries ?? 10_000, ttlMs, this.clock);
    this.refreshAfterMs = ttlMs / 2;
    this.dummyHash = hashApiKey(opts.secret, 'sb_00000000_unused');
    const every = opts.lastUsedFlushMs ?? 30_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.flushLastUsed(), every);
      this.timer.unref();
    }
  }

  async create(input: CreateApiKeyInput): Promise<IssuedApiKey> {
    const scopes = parse(scopesSchema, input.scopes, 'scopes');
    const limits = input.limits ? parse(limitsSchema, input.limits, 'limits') : null;
    if (!input.ownerUserId) throw new AppError('invalid_request', 'ownerUserId is required.');
    if (!input.name || input.name.length > 200)
      throw new AppError('invalid_request', 'name must be 1-200 characters.');
    const { key, prefix } = generateApiKey();
    const row: ApiKeyRow = {
      id: randomUUID(),
      prefix,
      hash: hashApiKey(this.opts.secret, key).toString('hex'),
      ownerUserId: input.ownerUserId,
      accountId: input.accountId,
      scopes,
      name: input.name,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      rotatedFrom: null,
      parentKeyId: input.parentKeyId ?? null,
      graceUntil: null,
      limits,
      lastUsedAt: null,
      createdAt: new Date(this.clock()),
    };
    try {
      await this.repo.insert(row);
    } catch (err) {
      if (isForeignKeyViolation(err)) {
        throw new AppError('invalid_request', 'The account does not exist.', {
          param: 'accountId',
        });
      }
      throw err;
    }
    return { key, record: publicView(row) };
  }

  /**
   * The key's record if the key is valid now; otherwise throws ApiKeyError
   * (`invalid_api_key`, `api_key_revoked` or `api_key_expired`). Records the
   * use for the batched last-used write.
   */
  async verify(plaintext: string): Promise<ApiKeyRecord> {
    const prefix = apiKeyPrefix(plaintext);
    if (!prefix) throw new ApiKeyError('invalid_api_key');
    let entry = this.cache.get(prefix);
    // The HMAC runs once per cached row: a key it accepted is recognised after
    // that by its SHA-256 (a 256-bit random key needs no secret to be hashed safely).
    const digest = hash('sha256', plaintext, 'buffer');
    if (!entry?.verified || !timingSafeEqual(digest, entry.verified)) {
      const presented = hashApiKey(this.opts.secret, plaintext);
      if (!entry) {
        const row = await this.repo.findByPrefix(prefix);
        if (!row) {
          timingSafeEqual(presented, this.dummyHash);
          throw new ApiKeyError('invalid_api_key');
        }
        entry = {
          row,
          view: frozenView(row),
          hash: Buffer.from(row.hash, 'hex'),
          loadedAt: this.clock(),
        };
        this.cache.set(prefix, entry);
      }
      if (entry.hash.length !== presented.length || !timingSafeEqual(presented, entry.hash)) {
        throw new ApiKeyError('invalid_api_key');
      }
      entry.verified = digest;
    }
    const { row } = entry;
    const now = this.clock();
    if (now - entry.loadedAt >= this.refreshAfterMs && !entry.refreshing)
      this.refresh(prefix, entry);
    if (row.revokedAt && row.revokedAt.getTime() <= now) throw new ApiKeyError('api_key_revoked');
    // a rotated-out key past its grace period is as dead as a revoked one
    if (row.graceUntil && row.graceUntil.getTime() <= now) throw new ApiKeyError('api_key_revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= now) throw new ApiKeyError('api_key_expired');
    this.touch(row.id, now);
    return entry.view;
  }

  /**
   * Reads a key in use again before its cached row expires, so no request waits for
   * the database while the key keeps being used; a revocation or change made on
   * another replica still arrives within the TTL, usually within half of it. The
   * fresher row replaces the entry only if it is still the one cached (a local
   * revoke or rotate removes it first). A failed read leaves the entry to expire.
   */
  private refresh(prefix: string, entry: CachedKey): void {
    entry.refreshing = true;
    const readAt = this.clock();
    this.repo.findByPrefix(prefix).then(
      (row) => {
        if (this.cache.peek(prefix) !== entry) return;
        if (!row) {
          this.cache.delete(prefix);
          return;
        }
        this.cache.set(prefix, {
          row,
          view: frozenView(row),
          hash: Buffer.from(row.hash, 'hex'),
          loadedAt: readAt,
          // the same stored hash accepts the same key
          verified: row.hash === entry.row.hash ? entry.verified : undefined,
        });
      },
      // the entry stays marked: it is read again (waited for) once it expires
      (e: unknown) => {
        this.logger.warn(`API key ${prefix} could not be read again: ${String(e)}`);
      },
    );
  }

  async get(id: string, access: ApiKeyAccess = {}): Promise<ApiKeyRecord> {
    const r = await this.repo.findById(id);
    if (!r || (access.ownerUserId !== undefined && r.ownerUserId !== access.ownerUserId)) {
      throw new AppError('not_found', 'API key not found.');
    }
    return r;
  }

  /**
   * How many keys stand above `id` (its minting key, that key's, ...), counted
   * up to `MAX_MINTING_ANCESTORS + 1`.
   */
  async mintingAncestors(id: string): Promise<number> {
    const seen = new Set([id]);
    let parent = (await this.repo.findById(id))?.parentKeyId ?? null;
    while (parent && !seen.has(parent) && seen.size <= MAX_MINTING_ANCESTORS + 1) {
      seen.add(parent);
      parent = (await this.repo.findById(parent))?.parentKeyId ?? null;
    }
    return seen.size - 1;
  }

  /** the keys minted (through self-service) by `id`, directly or further down */
  descendants(id: string): Promise<string[]> {
    return this.repo.descendants(id);
  }

  /** every key (admin) or those of one owner and/or account */
  list(filter: ApiKeyFilter = {}): Promise<ApiKeyRecord[]> {
    return this.repo.list(filter);
  }

  async revoke(id: string, access: ApiKeyAccess = {}): Promise<ApiKeyRecord> {
    if (access.ownerUserId !== undefined) await this.get(id, access);
    const r = await this.repo.revoke(id, new Date(this.clock()));
    if (!r) throw new AppError('not_found', 'API key not found.');
    this.cache.delete(r.prefix);
    return r;
  }

  /**
   * Issues a replacement (same owner, account, scopes, limits, expiry) and lets
   * the old key work for `graceSeconds` more, so clients can switch without
   * downtime.
   */
  async rotate(
    id: string,
    graceSeconds: number,
    access: ApiKeyAccess = {},
  ): Promise<IssuedApiKey & { previous: ApiKeyRecord }> {
    if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
      throw new AppError('invalid_request', 'graceSeconds must be >= 0.');
    }
    if (access.ownerUserId !== undefined) await this.get(id, access);
    const now = this.clock();
    const { key, prefix } = generateApiKey();
    const out = await this.repo.rotate(id, new Date(now + graceSeconds * 1000), (old) => {
      const dead =
        (old.revokedAt && old.revokedAt.getTime() <= now) ||
        (old.graceUntil && old.graceUntil.getTime() <= now);
      if (dead) throw new AppError('invalid_request', 'A revoked key cannot be rotated.');
      return {
        ...old,
        id: randomUUID(),
        prefix,
        hash: hashApiKey(this.opts.secret, key).toString('hex'),
        revokedAt: null,
        rotatedFrom: old.id,
        parentKeyId: old.parentKeyId,
        graceUntil: null,
        lastUsedAt: null,
        createdAt: new Date(now),
      };
    });
    if (!out) throw new AppError('not_found', 'API key not found.');
    this.cache.delete(out.previous.prefix);
    return { key, record: out.next, previous: out.previous };
  }

  async setLimits(
    id: string,
    limits: PrincipalLimits | null,
    access: ApiKeyAccess = {},
  ): Promise<ApiKeyRecord> {
    if (access.ownerUserId !== undefined) await this.get(id, access);
    const parsed = limits === null ? null : parse(limitsSchema, limits, 'limits');
    const r = await this.repo.setLimits(id, parsed);
    if (!r) throw new AppError('not_found', 'API key not found.');
    this.cache.delete(r.prefix);
    return r;
  }

  /** records a use in memory; written by the next flush */
  touch(id: string, at = this.clock()): void {
    const prev = this.pendingTouches.get(id);
    if (prev === undefined || at > prev) this.pendingTouches.set(id, at);
  }

  /** writes pending last-used times in one statement; call on shutdown */
  flushLastUsed(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pendingTouches.size === 0) return;
      const batch = [...this.pendingTouches].map(([id, at]) => ({ id, at: new Date(at) }));
      this.pendingTouches.clear();
      try {
        await this.repo.touchMany(batch);
      } catch (err) {
        // keep them for the next flush; newer touches win
        for (const { id, at } of batch) this.touch(id, at.getTime());
        this.logger.warn(
          `last-used flush failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    });
    return this.flushing;
  }

  /** stops the flush timer and writes what is pending */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flushLastUsed();
  }
}

export function isForeignKeyViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';
}

function publicView(row: ApiKeyRow | ApiKeyRecord): ApiKeyRecord {
  const { hash: _hash, ...rest } = row as ApiKeyRow;
  return { ...rest, scopes: [...rest.scopes], limits: rest.limits ? { ...rest.limits } : null };
}

/** the public view, frozen (its lists too): one object answers every request of a cached key */
function frozenView(row: ApiKeyRow): ApiKeyRecord {
  const view = publicView(row);
  Object.freeze(view.scopes);
  if (view.limits) Object.freeze(view.limits);
  return Object.freeze(view);
}

function parse<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  value: unknown,
  field: string,
): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new AppError('invalid_request', `${field} is invalid.`, { param: field });
  return r.data;
}
