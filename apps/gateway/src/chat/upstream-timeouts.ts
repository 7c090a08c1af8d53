import { UpstreamError, type FlowControl } from '@switchboard/llm';
import { Observable } from 'rxjs';

/**
 * Fails a provider stream that sends nothing for `ttftMs` before its first event,
 * or for `idleMs` between events. Time spent paused by client back-pressure does
 * not count: a slow reader is not a dead upstream.
 */
export function upstreamTimeouts<T>(ttftMs: number, idleMs: number, flow?: FlowControl) {
  return (source: Observable<T>) =>
    new Observable<T>((subscriber) => {
      let first = true;
      let timer: NodeJS.Timeout | undefined;
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (flow?.paused) return arm(ms);
          subscriber.error(
            new UpstreamError(
              'upstream_timeout',
              first ? `no first token within ${ttftMs} ms` : `no token for ${idleMs} ms`,
              first,
            ),
          );
        }, ms);
      };
      arm(ttftMs);
      const sub = source.subscribe({
        next: (v) => {
          first = false;
          arm(idleMs);
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
