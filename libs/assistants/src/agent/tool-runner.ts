import { isAppError } from '@switchboard/common';
import type { ToolCall } from '@switchboard/llm';
import { Ajv, type ValidateFunction } from 'ajv';
import { Observable } from 'rxjs';
import type { AgentTool, ToolContext } from './tool';

/** An error whose message is meant for the model (and may reach the user). */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

export interface ToolOutcome {
  ok: boolean;
  /** what goes back to the model as the tool result */
  content: string;
  /** short, client-safe description for the status frame */
  summary: string;
}

function safeMessage(e: unknown): string {
  if (isAppError(e) || e instanceof ToolError) return e.message;
  // the SSRF guard's refusals are written for callers
  if (e instanceof Error && e.name === 'ExternalFetchError') return e.message;
  return 'the tool failed';
}

function errorOutcome(message: string): ToolOutcome {
  return { ok: false, content: JSON.stringify({ error: message }), summary: message };
}

/**
 * Validates a model's tool call against the tool's JSON schema and runs it with
 * a timeout. Every failure (unknown tool, bad JSON, invalid arguments, a throw,
 * a timeout) becomes an `{"error": ...}` result for the model: the loop goes on.
 */
export class ToolRunner {
  readonly #tools: Map<string, AgentTool>;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(
    tools: AgentTool[],
    private readonly opts: { timeoutMs: number; maxResultChars: number },
  ) {
    this.#tools = new Map(tools.map((t) => [t.name, t]));
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const t of tools) this.#validators.set(t.name, ajv.compile(t.parameters));
  }

  get tools(): AgentTool[] {
    return [...this.#tools.values()];
  }

  run(
    call: ToolCall,
    ctx: Omit<ToolContext, 'signal'> & { signal: AbortSignal },
  ): Observable<ToolOutcome> {
    return new Observable<ToolOutcome>((sub) => {
      const tool = this.#tools.get(call.name);
      const finish = (o: ToolOutcome) => {
        sub.next(o);
        sub.complete();
      };
      if (!tool) {
        finish(errorOutcome(`unknown tool "${call.name.slice(0, 100)}"`));
        return;
      }
      let args: unknown;
      try {
        args = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
      } catch {
        finish(errorOutcome('the arguments are not valid JSON'));
        return;
      }
      const validate = this.#validators.get(tool.name)!;
      if (!validate(args)) {
        const why = (validate.errors ?? [])
          .slice(0, 5)
          .map((e) => `${e.instancePath || '(arguments)'} ${e.message ?? 'is invalid'}`)
          .join('; ');
        finish(errorOutcome(`invalid arguments: ${why}`));
        return;
      }
      const ac = new AbortController();
      const timer = setTimeout(
        () => ac.abort(new ToolError(`timed out after ${this.opts.timeoutMs} ms`)),
        this.opts.timeoutMs,
      );
      const signal = AbortSignal.any([ctx.signal, ac.signal]);
      const aborted = new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
      void Promise.race([tool.run(args as Record<string, unknown>, { ...ctx, signal }), aborted])
        .then(
          (value) => {
            const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
            const max = this.opts.maxResultChars;
            const content =
              text.length > max ? `${text.slice(0, max)}\n[result cut at ${max} characters]` : text;
            finish({ ok: true, content, summary: `${content.length} characters` });
          },
          (e: unknown) => finish(errorOutcome(safeMessage(e))),
        )
        .finally(() => clearTimeout(timer));
      return () => {
        clearTimeout(timer);
        ac.abort();
      };
    });
  }
}
