import { BUDGET_PERIODS } from './billing.types';
import type { BudgetHoldJournal } from './budget-hold.journal';
import { bucketsAt, periodStart } from './budget-periods';
import type { BudgetRepository } from './budget.repository';
import type { BudgetStore } from './budget-store.port';
import type { BillingLogger } from './billing.logger';

export interface BudgetSeederOptions {
  now?: () => number;
  logger?: BillingLogger;
  /**
   * Keys whose spend also counts against a key's budget (the keys it minted):
   * their ledger rows carry their own key id.
   */
  keysUnder?: (keyId: string) => Promise<string[]>;
}

/**
 * Rebuilds the budget store from PostgreSQL, the source of truth: spend of every
 * budgeted scope from the usage ledger (plus settled costs whose ledger rows
 * are not written yet), and every open hold from the hold journal. Runs at boot
 * and whenever the store reports it lost its data; reservations are refused
 * (fail closed) until it has finished. Seeding only ever raises spend and
 * restoring a hold that is present changes nothing, so replicas that seed at
 * the same time cannot undo each other.
 */
export class BudgetSeeder {
  private readonly now: () => number;
  private readonly logger?: BillingLogger;
  private readonly keysUnder: (keyId: string) => Promise<string[]>;
  #running?: Promise<void>;

  constructor(
    private readonly store: BudgetStore,
    private readonly repo: Pick<BudgetRepository, 'list'>,
    private readonly ledger: {
      spentSince(type: 'user' | 'account' | 'key', id: string, since: Date): Promise<number>;
    },
    private readonly journal: BudgetHoldJournal,
    opts: BudgetSeederOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    this.keysUnder = opts.keysUnder ?? (() => Promise.resolve([]));
  }

  /** true while a re-seed is under way in this process */
  get seeding(): boolean {
    return this.#running !== undefined;
  }

  /** Seeds once at a time per process; concurrent callers share the run. */
  seed(): Promise<void> {
    this.#running ??= this.#seed().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #seed(): Promise<void> {
    const started = this.now();
    // read first: a loss while seeding runs is caught after it, not forgotten
    const stamp = await this.store.seedStamp();
    const scoped = await this.repo.list();
    const scopes = new Map(
      scoped.map((b) => [`${b.scopeType}:${b.scopeId}`, { type: b.scopeType, id: b.scopeId }]),
    );
    // Holds are restored only when the store lost them: a store that kept its
    // data has every live hold, and restoring one that just settled would leave
    // a phantom hold until it expires. Open holds first: once restored they block
    // spending while spend is rebuilt.
    const lost = !(await this.store.isSeeded());
    const holds = lost ? await this.journal.openHolds() : [];
    for (const h of holds) {
      const nowMs = this.now();
      await this.store.restoreHold({
        holdId: h.holdId,
        scopes: h.scopes.map((s) => ({ ...s, limits: [] })),
        amountMicros: h.amountMicros,
        nowMs,
        expiresAtMs: Math.max(h.expiresAtMs, nowMs + 1),
        buckets: bucketsAt(nowMs),
      });
    }
    // a request that settled while its hold was being restored must not keep it
    const open = await this.journal.stillOpen(holds.map((h) => h.holdId));
    for (const h of holds)
      if (!open.has(h.holdId)) {
        const nowMs = this.now();
        await this.store.settle({
          holdId: h.holdId,
          actualMicros: 0,
          nowMs,
          buckets: bucketsAt(nowMs),
        });
      }
    for (const s of scopes.values()) {
      const family = s.type === 'key' ? [s.id, ...(await this.keysUnder(s.id))] : [s.id];
      for (const p of BUDGET_PERIODS) {
        const nowMs = this.now();
        const since = periodStart(p, nowMs);
        let micros = await this.journal.unledgeredSince(s.type, s.id, since);
        for (const id of family) micros += await this.ledger.spentSince(s.type, id, since);
        if (micros > 0)
          await this.store.seedSpent(s.type, s.id, p, bucketsAt(nowMs)[p], micros, nowMs);
      }
    }
    await this.store.markSeeded(stamp);
    await this.journal.prune().catch(() => 0);
    this.logger?.log(
      `budgets seeded from the ledger: ${scopes.size} scopes, ${holds.length} open holds restored in ${this.now() - started} ms`,
    );
  }
}
