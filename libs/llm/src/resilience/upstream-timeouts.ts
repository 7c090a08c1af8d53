import type { FlowControl } from '../flow-control';
import { UpstreamError } from '../upstream-error';

/**
 * Fails a provider stream that sends nothing for `ttftMs` before its first event,
 * or for `idleMs` between events. Time spent paused by client back-pressure does
 * not count: a slow reader is not a dead upstream.
 *
 * One timer per stream, re-armed only when it fires: resetting a timer on every
 * token costs more than the token itself at high rates. `seen()` runs per event
 * and only reads the clock.
 */
export class UpstreamTimer {
  #first = true;
  #lastEventAt = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ttftMs: number,
    private readonly idleMs: number,
    private readonly flow: FlowControl | undefined,
    private readonly onTimeout: (e: UpstreamError) => void,
  ) {
    this.#timer = setTimeout(this.#fire, ttftMs);
  }

  /** an event arrived from upstream */
  seen(): void {
    this.#lastEventAt = performance.now();
    if (!this.#first) return;
    this.#first = false;
    // the armed first-token timer may fire later than the idle limit needs
    if (this.idleMs < this.ttftMs && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(this.#fire, this.idleMs);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #fire = (): void => {
    const limit = this.#first ? this.ttftMs : this.idleMs;
    const now = performance.now();
    if (this.flow?.paused) this.#lastEventAt = now;
    const remaining = this.#lastEventAt + limit - now;
    if (remaining > 0) {
      this.#timer = setTimeout(this.#fire, remaining);
      return;
    }
    this.#timer = undefined;
    this.onTimeout(
      new UpstreamError(
        'upstream_timeout',
        this.#first ? `no first token within ${this.ttftMs} ms` : `no token for ${this.idleMs} ms`,
        this.#first,
      ),
    );
  };
}
