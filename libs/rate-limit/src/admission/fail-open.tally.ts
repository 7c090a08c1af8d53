/** The admission checks that may admit without a working store. */
export type FailOpenCheck = 'rate_limit' | 'request_claims' | 'budget';

/**
 * Counts admissions that went ahead without a working check, for `/ready`
 * details (the Prometheus counter is `switchboard_admission_fail_open_total`).
 */
export class FailOpenTally {
  readonly #counts: Record<FailOpenCheck, number> = {
    rate_limit: 0,
    request_claims: 0,
    budget: 0,
  };
  #lastAt?: number;

  constructor(private readonly now: () => number = Date.now) {}

  record(check: FailOpenCheck): void {
    this.#counts[check]++;
    this.#lastAt = this.now();
  }

  snapshot(): { failOpen: Record<FailOpenCheck, number>; lastFailOpenAt: string | null } {
    return {
      failOpen: { ...this.#counts },
      lastFailOpenAt: this.#lastAt === undefined ? null : new Date(this.#lastAt).toISOString(),
    };
  }
}
