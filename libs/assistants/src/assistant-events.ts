import {
  ZERO_USAGE,
  type ChatEvent,
  type FinishReason,
  type TokenUsage,
  type ToolCall,
} from '@switchboard/llm';
import { Observable, from, reduce, type OperatorFunction } from 'rxjs';

/** A status update (`meta` frame with `st`), updated in place by its id. */
export function statusEvent(
  id: string,
  message: string,
  inProgress: boolean,
  extra: Record<string, unknown> = {},
): ChatEvent {
  return { type: 'status', id, message, inProgress, ...extra };
}

/** The `state` frame that announces which assistant answers. */
export function currentAssistantEvent(a: { id: string; name: string }): ChatEvent {
  return { type: 'state', state: { currentAssistant: { id: a.id, name: a.name } } };
}

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

/** Everything one upstream call produced, once it has finished. */
export interface CallResult {
  text: string;
  toolCalls: ToolCall[];
  usage: TokenUsage;
  /** whether the provider reported usage (a `usage` event arrived) */
  usageReported: boolean;
  finish?: FinishReason;
}

/**
 * Assembles streamed `tool_call` deltas into whole calls: the first delta of a
 * call carries its id and name, later ones append argument fragments, and the
 * position (`index`) tells parallel calls apart.
 */
export class ToolCallAccumulator {
  readonly #calls = new Map<number, { id?: string; name: string; arguments: string }>();

  add(e: Extract<ChatEvent, { type: 'tool_call' }>): void {
    const c = this.#calls.get(e.index) ?? { name: '', arguments: '' };
    if (e.id) c.id = e.id;
    if (e.name && !c.name) c.name = e.name;
    if (e.argumentsDelta) c.arguments += e.argumentsDelta;
    this.#calls.set(e.index, c);
  }

  /** Calls in index order; a call the provider sent without an id gets a stable one. */
  calls(idPrefix: string): ToolCall[] {
    return [...this.#calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([i, c]) => ({ id: c.id ?? `${idPrefix}_${i}`, name: c.name, arguments: c.arguments }));
  }
}

/** Folds a call's events into one result (for sub-calls whose text is not streamed). */
export function collectCall(idPrefix = 'call'): OperatorFunction<ChatEvent, CallResult> {
  return (source) =>
    new Observable<CallResult>((sub) => {
      const acc = new ToolCallAccumulator();
      return source
        .pipe(
          reduce(
            (r, e) => {
              switch (e.type) {
                case 'text':
                  r.text += e.text;
                  break;
                case 'tool_call':
                  acc.add(e);
                  break;
                case 'usage':
                  r.usage = addUsage(r.usage, e.usage);
                  r.usageReported = true;
                  break;
                case 'finish':
                  r.finish = e.reason;
                  break;
                case 'status':
                case 'state':
                case 'artifact':
                  break;
              }
              return r;
            },
            {
              text: '',
              toolCalls: [],
              usage: { ...ZERO_USAGE },
              usageReported: false,
            } as CallResult,
          ),
        )
        .subscribe({
          next: (r) => sub.next({ ...r, toolCalls: acc.calls(idPrefix) }),
          error: (e: unknown) => sub.error(e),
          complete: () => sub.complete(),
        });
    });
}

/** An Observable of the given values (typed by the element, unlike `of<T>`). */
export function emit<T>(...values: T[]): Observable<T> {
  return from(values);
}
