/**
 * Per-provider circuit breaker: after `threshold` consecutive retryable failures
 * the provider is skipped for `cooldownMs`; then one trial call is let through
 * (half-open) and its outcome closes or re-opens the circuit.
 */
export class CircuitBreaker {
  readonly #state = new Map<string, { failures: number; openUntil: number; trial: boolean }>();

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when a call to `key` may go ahead now (reserves the half-open trial). */
  allow(key: string): boolean {
    const s = this.#state.get(key);
    if (!s || s.failures < this.threshold) return true;
    if (this.now() < s.openUntil) return false;
    if (s.trial) return false;
    s.trial = true;
    return true;
  }

  success(key: string): void {
    this.#state.delete(key);
  }

  failure(key: string): void {
    const s = this.#state.get(key) ?? { failures: 0, openUntil: 0, trial: false };
    s.failures++;
    s.trial = false;
    if (s.failures >= this.threshold) s.openUntil = this.now() + this.cooldownMs;
    this.#state.set(key, s);
  }

  isOpen(key: string): boolean {
    const s = this.#state.get(key);
    return !!s && s.failures >= this.threshold && this.now() < s.openUntil;
  }
}

/** Exponential backoff with full jitter, at least Retry-After when the upstream sent one. */
export function backoffMs(
  attempt: number,
  retryAfterSeconds: number | undefined,
  random = Math.random,
): number {
  const base = 200 * 2 ** attempt;
  const jittered = Math.round(random() * Math.min(base, 8000));
  return Math.max(jittered, (retryAfterSeconds ?? 0) * 1000);
}
