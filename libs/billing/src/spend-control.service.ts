import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import {
  AccountService,
  ApiKeyService,
  MAX_MINTING_ANCESTORS,
  type Principal,
  type PrincipalLimits,
} from '@switchboard/auth';
import { BudgetHoldJournal } from './budget-hold.journal';
import { BudgetRepository } from './budget.repository';
import { BudgetSeeder } from './budget-seeder';
import { BudgetService, describeRejection } from './budget.service';
import { BudgetStoreUnseededError } from './budget-store.port';
import { ATOMIC_ADMISSION, type RedisAdmission } from './redis-admission';
import type { BudgetScope, ReserveResult } from './budget.types';
import type { ScopeType } from './billing.types';
import { AppError } from '@switchboard/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { MetricsService } from '@switchboard/observability';
import { RateLimitService, subjectOf, type SubjectCheck } from '@switchboard/rate-limit';
import type { RateLimitDecision } from '@switchboard/rate-limit';
import {
  FailOpenTally,
  LIMITS_VERSION,
  REQUEST_CLAIMS,
  type FailOpenCheck,
  type LimitsVersion,
  type RequestClaims,
} from '@switchboard/rate-limit';

/**
 * Concurrency slots and client-id claims are leases this short, renewed while
 * the request lives: a replica that dies (or a release that fails) frees them
 * within seconds.
 */
export const LEASE_MS = 15_000;
const RENEW_EVERY_MS = 5_000;
const HOLD_TTL_MS = 2 * 60 * 60_000;

/** What a request was admitted with; `finish` settles it exactly once. */
export interface Admission {
  readonly headers: Record<string, string>;
  readonly accountId?: string;
  finish(actualCostMicros: number, actualTokens: number): void;
  /**
   * Frees the client's request id now (also done by `finish`): the stream's end
   * frame leaves after it, so a client that saw the end may reuse the id at once.
   */
  releaseRequestId(): Promise<void>;
}

/** One billable request as admission sees it. */
export interface AdmitRequest {
  /** the server-owned id of the request: keys the hold, the slot and the ledger rows */
  requestId: string;
  /**
   * the id the client gave the request, if any: a correlation id unique among
   * the caller's requests in flight (a duplicate is 409 `duplicate_request`)
   */
  clientRequestId?: string;
  principal: Principal;
  accountId?: string;
  /** worst-case cost of every planned upstream call */
  holdMicros: number;
  /** tokens charged against tokens-per-minute now; corrected on finish */
  estimatedTokens: number;
}

/** a key's limits and the key that minted it, as admission needs them */
interface KeyFacts {
  limits: PrincipalLimits | null;
  parentKeyId: string | null;
}

/**
 * Settings cached per replica only while the limits version they were loaded
 * at is current: an admin change bumps the version and the next request on
 * every replica loads afresh.
 */
class VersionedCache<V> {
  readonly #m = new Map<string, Promise<V>>();
  #version: string | undefined;

  get(version: string | undefined, key: string, load: () => Promise<V>): Promise<V> {
    if (version === undefined || version !== this.#version) {
      this.#m.clear();
      this.#version = version;
    }
    const hit = this.#m.get(key);
    if (hit) return hit;
    const v = load();
    if (version !== undefined) {
      this.#m.set(key, v);
      v.catch(() => this.#m.delete(key));
      if (this.#m.size > 10_000) this.#m.delete(this.#m.keys().next().value!);
    }
    return v;
  }
}

/**
 * The admission path of every billable route (chat, completions, embeddings):
 * claim the client's request id, check rate limits (requests, tokens,
 * concurrent streams per key, minting keys, user and account), place a budget
 * hold for the worst-case cost, and on `finish` settle all of it exactly once.
 * Atomic across replicas when Redis is configured.
 */
@Injectable()
export class SpendControl {
  private readonly log = new Logger('spend');
  readonly #accountLimits = new VersionedCache<PrincipalLimits | null>();
  readonly #keys = new VersionedCache<KeyFacts | null>();
  readonly #budgetScopes = new VersionedCache<BudgetScope[]>();
  /** the limits version last seen in Redis (one-trip admission checks it) */
  #knownVersion: string | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimits: RateLimitService,
    private readonly budgets: BudgetService,
    private readonly budgetRepo: BudgetRepository,
    private readonly accounts: AccountService,
    private readonly keys: ApiKeyService,
    private readonly journal: BudgetHoldJournal,
    private readonly seeder: BudgetSeeder,
    private readonly metrics: MetricsService,
    private readonly failOpen: FailOpenTally,
    @Inject(REQUEST_CLAIMS) private readonly claims: RequestClaims,
    @Inject(LIMITS_VERSION) private readonly limitsVersion: LimitsVersion,
    @Optional() @Inject(ATOMIC_ADMISSION) private readonly atOnce: RedisAdmission | null = null,
  ) {}

  /** The account charged: the one named (if the caller belongs to it) or the default. */
  chargedAccount(principal: Principal, requested: string | undefined): string | undefined {
    if (requested === undefined) return principal.defaultAccountId;
    if (principal.kind === 'bootstrap-admin' || principal.accountIds.includes(requested))
      return requested;
    throw new AppError('forbidden', 'You do not belong to that account.', {
      param: 'options.accountId',
    });
  }

  /** Call after any change to budgets or limits: applies to the next request on every replica. */
  async limitsChanged(): Promise<void> {
    await this.limitsVersion.bump();
  }

  async admit(args: AdmitRequest): Promise<Admission> {
    const { principal } = args;
    const accountId = this.chargedAccount(principal, args.accountId);
    const releaseClaim = await this.#claim(args);
    try {
      if (principal.kind === 'bootstrap-admin')
        return await this.#admitOperator(args, accountId, releaseClaim);
      if (this.atOnce) return await this.#admitAtOnce(this.atOnce, args, accountId, releaseClaim);
      return await this.#admit(args, accountId, releaseClaim);
    } catch (e) {
      void releaseClaim();
      throw e;
    }
  }

  /**
   * The bootstrap admin is the operator's key: no limits and no budget of its
   * own. An account it charges keeps its budget: the request holds against it
   * like any other, so the operator cannot overspend an account by accident.
   */
  async #admitOperator(
    args: AdmitRequest,
    accountId: string | undefined,
    releaseClaim: () => Promise<void>,
  ): Promise<Admission> {
    let held = false;
    if (accountId) {
      const version = await this.limitsVersion.current().catch(() => undefined);
      held = await this.#hold(version, args.requestId, [{ type: 'account', id: accountId }], args);
    }
    const renew = this.#renewEvery(() => this.#renewClaim(args));
    return {
      headers: {},
      accountId,
      finish: once((actualCostMicros: number) => {
        clearInterval(renew);
        void releaseClaim();
        if (held) this.#settle(args.requestId, actualCostMicros);
      }),
      releaseRequestId: releaseClaim,
    };
  }

  async #admit(
    args: AdmitRequest,
    accountId: string | undefined,
    releaseClaim: () => Promise<void>,
  ): Promise<Admission> {
    const { principal, requestId } = args;
    const version = await this.limitsVersion.current().catch((e: unknown) => {
      // unknown version: load everything afresh rather than trust the cache
      this.log.warn({ err: e }, 'limits version unavailable; loading limits uncached');
      return undefined;
    });
    const keyChain = principal.keyId ? await this.#keyChain(version, principal) : [];
    const subjects = await this.#subjects(version, principal, keyChain, accountId);
    const estimatedTokens = args.estimatedTokens;
    const decision = await this.rateLimits.check({
      subjects,
      estimatedTokens,
      slotId: requestId,
      leaseMs: LEASE_MS,
    });
    if (!decision.allowed) throw this.#limited(decision);
    if (decision.degraded) this.#failedOpen('rate_limit');
    let held: boolean;
    try {
      held = await this.#hold(
        version,
        requestId,
        this.#wanted(principal, accountId, keyChain),
        args,
      );
    } catch (e) {
      this.#releaseLimits(requestId, subjects, estimatedTokens, 0);
      throw e;
    }
    return this.#admitted(args, accountId, subjects, decision.headers, held, releaseClaim);
  }

  /**
   * The same admission in one Redis round trip (`RedisAdmission`): limits
   * version, rate limits and hold in one script. Settings come from the caches
   * of the version last seen; if it moved, nothing was charged and the request
   * is admitted again with fresh settings. A Redis failure falls back to the
   * step-by-step admission, where each check applies its own failure policy.
   */
  async #admitAtOnce(
    atOnce: RedisAdmission,
    args: AdmitRequest,
    accountId: string | undefined,
    releaseClaim: () => Promise<void>,
  ): Promise<Admission> {
    const { principal, requestId, estimatedTokens } = args;
    let version = this.#knownVersion;
    let journaled: BudgetScope[] | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const keyChain = principal.keyId ? await this.#keyChain(version, principal) : [];
      const subjects = await this.#subjects(version, principal, keyChain, accountId);
      const scopes = await this.#scopes(version, this.#wanted(principal, accountId, keyChain));
      let r: Awaited<ReturnType<RedisAdmission['admit']>>;
      let held: boolean;
      try {
        const check = this.rateLimits.prepare({
          subjects,
          estimatedTokens,
          slotId: requestId,
          leaseMs: LEASE_MS,
        });
        const hold =
          scopes.length > 0
            ? this.budgets.prepare({
                holdId: requestId,
                scopes,
                amountMicros: args.holdMicros,
                ttlMs: HOLD_TTL_MS,
              })
            : undefined;
        held = hold !== undefined;
        if (hold && journaled !== scopes) {
          // journaled before it is placed, as in #hold; other settings: the old rows go
          if (journaled) await this.journal.close(requestId, 0);
          await this.journal.open(requestId, scopes, hold.amountMicros, hold.expiresAtMs);
          journaled = scopes;
        }
        r = await atOnce.admit(version, check, hold);
      } catch (e) {
        if (e instanceof BudgetStoreUnseededError) {
          if (journaled) this.#closeJournal(requestId, 0);
          this.#unseeded(requestId);
        }
        this.log.warn({ err: e, requestId }, 'one-trip admission failed; admitting step by step');
        return await this.#admitStepByStep(args, accountId, releaseClaim, journaled);
      }
      this.#knownVersion = r.version;
      if (r.outcome === 'stale') {
        version = r.version;
        continue;
      }
      const decision = r.limits
        ? this.rateLimits.decide(r.limits)
        : { allowed: true as const, headers: {} };
      if (r.outcome !== 'ok' && journaled) this.#closeJournal(requestId, 0);
      if (!decision.allowed) throw this.#limited(decision);
      if (r.outcome === 'hold') throw this.#refused(r.hold);
      return this.#admitted(args, accountId, subjects, decision.headers, held, releaseClaim);
    }
    // the limits keep changing under this request: admit it the slow way
    return await this.#admitStepByStep(args, accountId, releaseClaim, journaled);
  }

  /**
   * The step-by-step admission after a one-trip attempt that journaled a hold
   * without placing it: those journal rows go first (awaited, so they cannot
   * remove the rows the next attempt writes).
   */
  async #admitStepByStep(
    args: AdmitRequest,
    accountId: string | undefined,
    releaseClaim: () => Promise<void>,
    journaled: BudgetScope[] | undefined,
  ): Promise<Admission> {
    if (journaled)
      await this.journal
        .close(args.requestId, 0)
        .catch((e: unknown) =>
          this.log.error({ err: e, requestId: args.requestId }, 'budget hold journal close failed'),
        );
    return await this.#admit(args, accountId, releaseClaim);
  }

  /** the admission handed back once limits and hold are in place */
  #admitted(
    args: AdmitRequest,
    accountId: string | undefined,
    subjects: SubjectCheck[],
    headers: Record<string, string>,
    held: boolean,
    releaseClaim: () => Promise<void>,
  ): Admission {
    const { requestId, estimatedTokens } = args;
    const renew = this.#renewEvery(() => {
      void this.rateLimits.renew(requestId, LEASE_MS, subjects);
      this.#renewClaim(args);
    });
    return {
      headers,
      accountId,
      finish: once((actualCostMicros: number, actualTokens: number) => {
        clearInterval(renew);
        void releaseClaim();
        if (this.atOnce) {
          this.#finishAtOnce(this.atOnce, args, subjects, held, actualCostMicros, actualTokens);
          return;
        }
        this.#releaseLimits(requestId, subjects, estimatedTokens, actualTokens);
        if (held) this.#settle(requestId, actualCostMicros);
      }),
      releaseRequestId: releaseClaim,
    };
  }

  /**
   * Slot, token correction and settlement in one Redis round trip. If it fails,
   * the slot's lease and the hold expire on their own (as when the separate
   * calls fail); the journal keeps the settled cost for re-seeding either way.
   */
  #finishAtOnce(
    atOnce: RedisAdmission,
    args: AdmitRequest,
    subjects: SubjectCheck[],
    held: boolean,
    actualCostMicros: number,
    actualTokens: number,
  ): void {
    const { requestId } = args;
    void (async () => {
      try {
        const settle = held ? this.budgets.prepareSettle(requestId, actualCostMicros) : undefined;
        await atOnce.finish(
          requestId,
          subjects.map((s) => s.subject),
          actualTokens - args.estimatedTokens,
          this.rateLimits.windowMs,
          settle,
        );
      } catch (e) {
        this.log.error(
          { err: e, requestId },
          'releasing the slot and settling the hold failed; both expire on their own',
        );
      } finally {
        if (held) this.#closeJournal(requestId, actualCostMicros);
      }
    })();
  }

  /** frees the stream slot and corrects the token charge to what was used */
  #releaseLimits(
    requestId: string,
    subjects: SubjectCheck[],
    estimatedTokens: number,
    actualTokens: number,
  ): void {
    void this.rateLimits.release(requestId);
    const delta = actualTokens - estimatedTokens;
    if (delta !== 0)
      for (const s of subjects) void this.rateLimits.adjustTokens(s.subject, delta, requestId);
  }

  #limited(decision: Exclude<RateLimitDecision, { allowed: true }>): AppError {
    if (decision.reason === 'unavailable')
      return new AppError('service_unavailable', undefined, { headers: decision.headers });
    return new AppError(
      'rate_limited',
      `Rate limit reached (${decision.limit} for ${decision.subject.split(':')[0]}).`,
      { retryAfterSeconds: decision.retryAfterSeconds, headers: decision.headers },
    );
  }

  #refused(r: ReserveResult | undefined): AppError {
    return new AppError('budget_exceeded', r && !r.ok ? describeRejection(r) : undefined);
  }

  /** who holds budget for a request: the user, the account charged, every key of the chain */
  #wanted(
    principal: Principal,
    accountId: string | undefined,
    keyChain: ReadonlyArray<{ id: string }>,
  ): Array<{ type: ScopeType; id: string }> {
    const wanted: Array<{ type: ScopeType; id: string }> = [{ type: 'user', id: principal.userId }];
    if (accountId) wanted.push({ type: 'account', id: accountId });
    for (const k of keyChain) wanted.push({ type: 'key', id: k.id });
    return wanted;
  }

  /** The user, the key and every key above it, and the account: each with its limits. */
  async #subjects(
    version: string | undefined,
    principal: Principal,
    keyChain: Array<{ id: string; limits: PrincipalLimits }>,
    accountId: string | undefined,
  ): Promise<SubjectCheck[]> {
    const d = this.config.limits;
    const defaults = {
      requestsPerMinute: d.requestsPerMinute,
      tokensPerMinute: d.tokensPerMinute,
      concurrentStreams: d.concurrentStreams,
    };
    const subjects: SubjectCheck[] = [
      { subject: subjectOf('user', principal.userId), limits: defaults },
    ];
    // the key itself, then every key above it: a minted key never escapes its minter
    for (const k of keyChain)
      subjects.push({ subject: subjectOf('key', k.id), limits: { ...defaults, ...k.limits } });
    if (accountId) {
      const overrides = await this.#accountLimits.get(
        version,
        accountId,
        async () => (await this.accounts.get(accountId))?.limits ?? null,
      );
      subjects.push({
        subject: subjectOf('account', accountId),
        limits: { ...defaults, ...(overrides ?? {}) },
      });
    }
    return subjects;
  }

  /** Claims the client's id for this request; a second request with it in flight is 409. */
  async #claim(args: AdmitRequest): Promise<() => Promise<void>> {
    const clientId = args.clientRequestId;
    if (clientId === undefined) return () => Promise.resolve();
    const owner = args.principal.userId;
    let claimed: boolean;
    try {
      claimed = await this.claims.claim(owner, clientId, args.requestId, LEASE_MS);
    } catch (e) {
      // Spend never depends on the claim (holds, slots and rows use the server id):
      // a broken claim store only loses duplicate detection for a while.
      this.log.warn({ err: e, requestId: args.requestId }, 'request-id claim store unavailable');
      this.#failedOpen('request_claims');
      return () => Promise.resolve();
    }
    if (!claimed)
      throw new AppError(
        'duplicate_request',
        `A request with requestId "${clientId}" is already in progress.`,
        { param: 'requestId' },
      );
    return onceShared(() =>
      this.claims
        .release(owner, clientId, args.requestId)
        .catch((e: unknown) =>
          this.log.warn(
            { err: e, requestId: args.requestId },
            'request-id claim release failed; the lease expires on its own',
          ),
        ),
    );
  }

  #renewClaim(args: AdmitRequest): void {
    if (args.clientRequestId === undefined) return;
    this.claims.renew(args.principal.userId, args.clientRequestId, args.requestId, LEASE_MS).then(
      (held) => {
        if (!held)
          this.log.warn(
            { requestId: args.requestId },
            'request-id claim lapsed and was taken by another request of the same caller',
          );
      },
      () => undefined,
    );
  }

  #renewEvery(fn: () => void): NodeJS.Timeout {
    const t = setInterval(fn, RENEW_EVERY_MS);
    t.unref();
    return t;
  }

  #failedOpen(check: FailOpenCheck): void {
    this.failOpen.record(check);
    this.metrics.admissionFailOpen.inc({ check });
  }

  /** the caller's key and the keys that minted it, nearest first */
  async #keyChain(
    version: string | undefined,
    principal: Principal,
  ): Promise<Array<{ id: string; limits: PrincipalLimits }>> {
    const chain: Array<{ id: string; limits: PrincipalLimits }> = [];
    let id: string | null = principal.keyId ?? null;
    while (id && !chain.some((k) => k.id === id)) {
      // a chain admission cannot follow to its top is refused, never cut short
      if (chain.length > MAX_MINTING_ANCESTORS)
        throw new AppError(
          'forbidden',
          'This key was minted through too many keys to be admitted; use a key nearer its origin.',
        );
      const keyId: string = id;
      const facts = await this.#keys.get(version, keyId, async () => {
        try {
          const k = await this.keys.get(keyId);
          return { limits: k.limits, parentKeyId: k.parentKeyId };
        } catch (e) {
          if (e instanceof AppError && e.code === 'not_found') return null;
          throw e;
        }
      });
      // the caller's own key falls back to what the principal carries
      chain.push({
        id: keyId,
        limits: { ...(facts?.limits ?? (chain.length === 0 ? principal.limits : {})) },
      });
      id = facts?.parentKeyId ?? null;
    }
    return chain;
  }

  async #hold(
    version: string | undefined,
    requestId: string,
    wanted: Array<{ type: ScopeType; id: string }>,
    args: { holdMicros: number },
  ): Promise<boolean> {
    const scopes = await this.#scopes(version, wanted);
    if (scopes.length === 0) return false;
    const amountMicros = args.holdMicros;
    let journaled = false;
    try {
      // journaled before it is placed, so a store that loses its data can get it back
      await this.journal.open(requestId, scopes, amountMicros, Date.now() + HOLD_TTL_MS);
      journaled = true;
      const r = await this.budgets.reserve({
        holdId: requestId,
        scopes,
        amountMicros,
        ttlMs: HOLD_TTL_MS,
      });
      if (!r.ok) throw this.#refused(r);
      return true;
    } catch (e) {
      if (journaled) this.#closeJournal(requestId, 0);
      if (e instanceof AppError) throw e;
      if (e instanceof BudgetStoreUnseededError) this.#unseeded(requestId);
      this.log.error({ err: e, requestId }, 'budget store unavailable');
      if (this.config.budgets.failOpen) {
        // admitted without a hold: counted like every other fail-open admission
        this.#failedOpen('budget');
        return false;
      }
      throw new AppError(
        'service_unavailable',
        'Budgets cannot be checked right now; retry later.',
        { retryAfterSeconds: 5 },
      );
    }
  }

  /** the budget scopes (with limits) of `wanted`, cached per limits version */
  #scopes(
    version: string | undefined,
    wanted: Array<{ type: ScopeType; id: string }>,
  ): Promise<BudgetScope[]> {
    const cacheKey = wanted.map((w) => `${w.type}:${w.id}`).join('|');
    return this.#budgetScopes.get(version, cacheKey, () => this.budgetRepo.scopesFor(wanted));
  }

  /**
   * The store lost its data (restart, failover, eviction): admitting now would
   * start every budget from zero. Refuses until it is re-seeded.
   */
  #unseeded(requestId: string): never {
    this.log.error({ requestId }, 'budget store lost its data; re-seeding from the ledger');
    this.seeder
      .seed()
      .catch((err: unknown) => this.log.error({ err }, 'budget re-seed failed; will retry'));
    throw new AppError('service_unavailable', 'Budgets are being restored; retry in a moment.', {
      retryAfterSeconds: 1,
    });
  }

  #settle(requestId: string, actualCostMicros: number): void {
    this.budgets
      .settle(requestId, actualCostMicros)
      .catch((e: unknown) =>
        this.log.error({ err: e, requestId }, 'budget settle failed; the hold expires on its own'),
      )
      .finally(() => this.#closeJournal(requestId, actualCostMicros));
  }

  #closeJournal(requestId: string, actualCostMicros: number): void {
    this.journal
      .close(requestId, actualCostMicros)
      .catch((e: unknown) =>
        this.log.error({ err: e, requestId }, 'budget hold journal close failed'),
      );
  }
}

/** `fn` runs on the first call only */
function once<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void {
  let done = false;
  return (...a: A) => {
    if (done) return;
    done = true;
    fn(...a);
  };
}

/** `fn` runs on the first call only; every call gets that first call's promise */
function onceShared(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
