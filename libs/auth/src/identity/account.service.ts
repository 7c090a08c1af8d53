import { randomUUID } from 'node:crypto';
import { AppError } from '@switchboard/common';
import type { PrincipalLimits } from '../principal';
import type { AccountRepository } from './account.repository';
import {
  accountIdSchema,
  limitsSchema,
  type AccountRecord,
  type CreateAccountInput,
} from './identity.types';
import { LruCache } from './lru-cache';

export interface AccountServiceOptions {
  /**
   * How long a user's memberships are reused from memory (default 5 s): the
   * window in which another replica still sees a removed member. Changes made
   * through this instance apply at once here.
   */
  membershipCacheTtlMs?: number;
  membershipCacheMaxEntries?: number;
  clock?: () => number;
}

/** Accounts (cost centres) and who belongs to them. */
export class AccountService {
  private readonly memberships: LruCache<string, AccountRecord[]>;
  private readonly clock: () => number;

  constructor(
    private readonly repo: AccountRepository,
    opts: AccountServiceOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.memberships = new LruCache(
      opts.membershipCacheMaxEntries ?? 10_000,
      opts.membershipCacheTtlMs ?? 5_000,
      this.clock,
    );
  }

  async create(input: CreateAccountInput): Promise<AccountRecord> {
    const id = input.id ?? randomUUID();
    if (!accountIdSchema.safeParse(id).success) {
      throw new AppError(
        'invalid_request',
        'Account id may hold letters, digits, ".", "_" and "-".',
        {
          param: 'id',
        },
      );
    }
    if (!input.name || input.name.length > 200) {
      throw new AppError('invalid_request', 'name must be 1-200 characters.', { param: 'name' });
    }
    const account: AccountRecord = {
      id,
      name: input.name,
      limits: input.limits ? validLimits(input.limits) : null,
      createdAt: new Date(this.clock()),
    };
    if (!(await this.repo.insert(account))) {
      throw new AppError('invalid_request', 'An account with this id exists.', { param: 'id' });
    }
    return account;
  }

  get(id: string): Promise<AccountRecord | undefined> {
    return this.repo.findById(id);
  }

  list(): Promise<AccountRecord[]> {
    return this.repo.list();
  }

  async setLimits(id: string, limits: PrincipalLimits | null): Promise<AccountRecord> {
    const r = await this.repo.setLimits(id, limits === null ? null : validLimits(limits));
    if (!r) throw new AppError('not_found', 'Account not found.');
    // cached memberships carry account limits
    this.memberships.clear();
    return r;
  }

  async addMember(accountId: string, userId: string): Promise<void> {
    if (!userId) throw new AppError('invalid_request', 'userId is required.', { param: 'userId' });
    if (!(await this.repo.addMember(accountId, userId)))
      throw new AppError('not_found', 'Account not found.');
    this.memberships.delete(userId);
  }

  /** false when the user was not a member */
  async removeMember(accountId: string, userId: string): Promise<boolean> {
    const removed = await this.repo.removeMember(accountId, userId);
    this.memberships.delete(userId);
    return removed;
  }

  members(accountId: string): Promise<string[]> {
    return this.repo.members(accountId);
  }

  /** the accounts a user belongs to, oldest membership first (briefly cached: hot path) */
  async accountsOf(userId: string): Promise<AccountRecord[]> {
    const hit = this.memberships.get(userId);
    if (hit) return [...hit];
    const accounts = await this.repo.accountsOf(userId);
    this.memberships.set(userId, accounts);
    return accounts;
  }

  async isMember(userId: string, accountId: string): Promise<boolean> {
    return (await this.accountsOf(userId)).some((a) => a.id === accountId);
  }
}

function validLimits(limits: PrincipalLimits): PrincipalLimits {
  const r = limitsSchema.safeParse(limits);
  if (!r.success) throw new AppError('invalid_request', 'limits are invalid.', { param: 'limits' });
  return r.data;
}
