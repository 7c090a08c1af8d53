/**
 * Back-pressure from the client socket to the upstream read loop. The SSE writer
 * pauses it when `res.write()` returns false and resumes it on 'drain'; provider
 * adapters await `ready()` between upstream chunks, so a slow reader stops the
 * upstream read (TCP back-pressure) instead of growing a buffer in the gateway.
 */
export class FlowControl {
  #paused = false;
  #waiters: Array<() => void> = [];

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** undefined when flowing, so the hot path allocates no promise. */
  ready(signal?: AbortSignal): Promise<void> | undefined {
    if (!this.#paused) return undefined;
    return new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}
