import type { ChatEvent } from '../chat.types';

/**
 * A hosted code run (OpenAI code_interpreter, Gemini code execution) as the
 * status events every adapter emits: `running code` while it runs, then the
 * outcome with the code and its logs, both under the id `code-<run>`.
 */

/** Characters of code and logs carried by a status event. */
export const CODE_STATUS_MAX_CHARS = 8000;

/** Code and logs as a status event carries them: at most CODE_STATUS_MAX_CHARS. */
export function clip(text: string): string {
  return text.length > CODE_STATUS_MAX_CHARS
    ? `${text.slice(0, CODE_STATUS_MAX_CHARS)}\n[…truncated]`
    : text;
}

export function codeRunStarted(run: string, code?: string): ChatEvent {
  return {
    type: 'status',
    id: `code-${run}`,
    message: 'running code',
    inProgress: true,
    tool: 'code_interpreter',
    ...(code === undefined ? {} : { code: clip(code) }),
  };
}

/** `message` is `ran code` when `ok`, else what went wrong (`code run failed`...). */
export function codeRunFinished(
  run: string,
  outcome: { ok: boolean; message: string; code?: string; logs: string },
): ChatEvent {
  return {
    type: 'status',
    id: `code-${run}`,
    message: outcome.ok ? 'ran code' : outcome.message,
    inProgress: false,
    tool: 'code_interpreter',
    ok: outcome.ok,
    ...(outcome.code === undefined ? {} : { code: clip(outcome.code) }),
    logs: clip(outcome.logs),
  };
}
