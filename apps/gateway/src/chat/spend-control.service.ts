import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccountService, type Principal, type PrincipalLimits } from '@switchboard/auth';
import {
  BudgetRepository,
  BudgetService,
  describeRejection,
  type BudgetScope,
  type ScopeType,
} from '@switchboard/billing';
import { AppError } from '@switchboard/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { RateLimitService, subjectOf, type SubjectCheck } from '@switchboard/rate-limit';

const LEASE_MS = 10 * 60_000;
const HOLD_TTL_MS = 2 * 60 * 60_000;
const CACHE_MS = 5_000;

/** What a request was admitted with; `finish` settles it exactly once. */
export interface Admission {
  readonly headers: Record<string, string>;
  readonly accountId?: string;
  finish(actualCostMicros: number, actualTokens: number): void;
}

class TtlCache<V> {
  readonly #m = new Map<string, { v: Promise<V>; at: number }>();
  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#m.get(key);
    const now = Date.now();
    if (hit && now - hit.at < CACHE_MS) return hit.v;
    const v = load();
    this.#m.set(key, { v, at: now });
    v.catch(() => this.#m.delete(key));
    if (this.#m.size > 10_000) this.#m.delete(this.#m.keys().next().value!);
    return v;
  }
}

/**
 * Admission before any upstream call: rate limits (requests, tokens, concurrent
 * streams per key, user and account) and a budget hold for the worst-case cost of
 * the whole plan. Both are atomic across replicas when Redis is configured.
 */
@Injectable()
export class SpendControl {
  private readonly log = new Logger('spend');
  readonly #accountLimits = new TtlCache<PrincipalLimits | null>();
  readonly #budgetScopes = new TtlCache<BudgetScope[]>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimits: RateLimitService,
    private readonly budgets: BudgetService,
    private readonly budgetRepo: BudgetRepository,
    private readonly accounts: AccountService,
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

  async admit(args: {
    requestId: string;
    principal: Principal;
    accountId?: string;
    /** worst-case cost of every planned upstream call */
    holdMicros: number;
    /** tokens charged against tokens-per-minute now; corrected on finish */
    estimatedTokens: number;
  }): Promise<Admission> {
    const { principal, requestId } = args;
    const accountId = this.chargedAccount(principal, args.accountId);
    // The bootstrap admin is the operator's key: no limits, no budgets.
    if (principal.kind === 'bootstrap-admin')
      return { headers: {}, accountId, finish: () => undefined };

    const d = this.config.limits;
    const defaults = {
      requestsPerMinute: d.requestsPerMinute,
      tokensPerMinute: d.tokensPerMinute,
      concurrentStreams: d.concurrentStreams,
    };
    const subjects: SubjectCheck[] = [
      { subject: subjectOf('user', principal.userId), limits: defaults },
    ];
    if (principal.keyId)
      subjects.push({
        subject: subjectOf('key', principal.keyId),
        limits: { ...defaults, ...principal.limits },
      });
    if (accountId) {
      const overrides = await this.#accountLimits.get(
        accountId,
        async () => (await this.accounts.get(accountId))?.limits ?? null,
      );
      subjects.push({
        subject: subjectOf('account', accountId),
        limits: { ...defaults, ...(overrides ?? {}) },
      });
    }
    const estimatedTokens = args.estimatedTokens;
    const decision = await this.rateLimits.check({
      subjects,
      estimatedTokens,
      slotId: requestId,
      leaseMs: LEASE_MS,
    });
    if (!decision.allowed) {
      if (decision.reason === 'unavailable')
        throw new AppError('service_unavailable', undefined, { headers: decision.headers });
      throw new AppError(
        'rate_limited',
        `Rate limit reached (${decision.limit} for ${decision.subject.split(':')[0]}).`,
        {
          retryAfterSeconds: decision.retryAfterSeconds,
          headers: decision.headers,
        },
      );
    }
    const releaseLimits = (actualTokens: number) => {
      void this.rateLimits.release(requestId);
      const delta = actualTokens - estimatedTokens;
      if (delta !== 0)
        for (const s of subjects) void this.rateLimits.adjustTokens(s.subject, delta, requestId);
    };
    const renew = setInterval(() => void this.rateLimits.renew(requestId, LEASE_MS), LEASE_MS / 2);
    renew.unref();

    let held = false;
    try {
      held = await this.#hold(requestId, principal, accountId, args);
    } catch (e) {
      clearInterval(renew);
      releaseLimits(0);
      throw e;
    }
    let finished = false;
    return {
      headers: decision.headers,
      accountId,
      finish: (actualCostMicros, actualTokens) => {
        if (finished) return;
        finished = true;
        clearInterval(renew);
        releaseLimits(actualTokens);
        if (held)
          this.budgets
            .settle(requestId, actualCostMicros)
            .catch((e: unknown) =>
              this.log.error(
                { err: e, requestId },
                'budget settle failed; the hold expires on its own',
              ),
            );
      },
    };
  }

  async #hold(
    requestId: string,
    principal: Principal,
    accountId: string | undefined,
    args: { holdMicros: number },
  ): Promise<boolean> {
    const wanted: Array<{ type: ScopeType; id: string }> = [{ type: 'user', id: principal.userId }];
    if (accountId) wanted.push({ type: 'account', id: accountId });
    if (principal.keyId) wanted.push({ type: 'key', id: principal.keyId });
    const cacheKey = wanted.map((w) => `${w.type}:${w.id}`).join('|');
    const scopes = await this.#budgetScopes.get(cacheKey, () => this.budgetRepo.scopesFor(wanted));
    if (scopes.length === 0) return false;
    const amountMicros = args.holdMicros;
    try {
      const r = await this.budgets.reserve({
        holdId: requestId,
        scopes,
        amountMicros,
        ttlMs: HOLD_TTL_MS,
      });
      if (!r.ok) throw new AppError('budget_exceeded', describeRejection(r));
      return true;
    } catch (e) {
      if (e instanceof AppError) throw e;
      this.log.error({ err: e, requestId }, 'budget store unavailable');
      if (this.config.budgets.failOpen) return false;
      throw new AppError(
        'service_unavailable',
        'Budgets cannot be checked right now; retry later.',
        { retryAfterSeconds: 5 },
      );
    }
  }
}
