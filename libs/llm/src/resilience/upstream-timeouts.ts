import type { FlowControl } from '../flow-control';
import { UpstreamError } from '../upstream-error';
import { Observable } from 'rxjs';

/**
 * Fails a provider stream that sends nothing for `ttftMs` before its first event,
 * or for `idleMs` between events. Time spent paused by client back-pressure does
 * not count: a slow reader is not a dead upstream.
 *
 * One timer per stream, re-armed only when it fires: resetting a timer on every
 * token costs more than the token itself at high rates.
 */
export function upstreamTimeouts<T>(ttftMs: number, idleMs: number, flow?: FlowControl) {
  return (source: Observable<T>) =>
    new Observable<T>((subscriber) => {
      let first = true;
      let lastEventAt = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const fire = () => {
        const limit = first ? ttftMs : idleMs;
        const now = performance.now();
        if (flow?.paused) lastEventAt = now;
        const remaining = lastEventAt + limit - now;
        if (remaining > 0) {
          timer = setTimeout(fire, remaining);
          return;
        }
        timer = undefined;
        subscriber.error(
          new UpstreamError(
            'upstream_timeout',
            first ? `no first token within ${ttftMs} ms` : `no token for ${idleMs} ms`,
            first,
          ),
        );
      };
      timer = setTimeout(fire, ttftMs);
      const sub = source.subscribe({
        next: (v) => {
          lastEventAt = performance.now();
          if (first) {
            first = false;
            // the armed TTFT timer may fire later than the idle limit needs
            if (idleMs < ttftMs) {
              clearTimeout(timer);
              timer = setTimeout(fire, idleMs);
            }
          }
          subscriber.next(v);
        },
        error: (e: unknown) => {
          clearTimeout(timer);
          subscriber.error(e);
        },
        complete: () => {
          clearTimeout(timer);
          subscriber.complete();
        },
      });
      return () => {
        clearTimeout(timer);
        sub.unsubscribe();
      };
    });
}
