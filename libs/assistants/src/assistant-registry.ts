import { AppError } from '@switchboard/common';
import { estimatePromptTokens, type ChatEvent } from '@switchboard/llm';
import { Observable } from 'rxjs';
import { currentAssistantEvent } from './assistant-events';
import type { Assistant, AssistantRunContext } from './assistant.port';
import {
  answerTokens,
  resolveConfig,
  type AssistantDeps,
  type AssistantsConfig,
  type ModelDirectory,
} from './assistants.config';
import { AgentAssistant, requireTools } from './agent/agent.assistant';
import {
  CODE_INTERPRETER_ID,
  CodeInterpreterAssistant,
  requireCodeInterpreter,
} from './code-interpreter/code-interpreter.assistant';
import { safetyMargin } from './context/context-fit';
import { DefaultAssistant } from './default.assistant';
import { documentTokens } from './map-reduce/document-buckets';
import { MapReduceAssistant } from './map-reduce/map-reduce.assistant';
import type { AssistantService } from './user-defined/assistant.service';
import { UserDefinedAssistant } from './user-defined/user-defined.assistant';

/** What selection looks at: who asks, with which model, conversation and documents. */
export type SelectionContext = Pick<
  AssistantRunContext,
  'principal' | 'modelId' | 'messages' | 'params' | 'documents'
>;

export interface AssistantRegistryOptions {
  /** the model catalogue (`LlmService` fits) */
  models: ModelDirectory;
  /** user-defined assistants; without it only built-ins exist */
  store?: AssistantService;
  config?: AssistantsConfig;
}

/** The chosen assistant, announcing itself in a `state` event before anything else. */
function announced(a: Assistant): Assistant {
  return {
    id: a.id,
    name: a.name,
    ...(a.plan ? { plan: a.plan.bind(a) } : {}),
    ...(a.answerModel ? { answerModel: a.answerModel.bind(a) } : {}),
    // the same as concat(of(state), a.run(ctx)), without an operator chain per request
    run: (ctx: AssistantRunContext): Observable<ChatEvent> =>
      new Observable<ChatEvent>((out) => {
        out.next(currentAssistantEvent(a));
        if (!out.closed) a.run(ctx).subscribe(out);
      }),
  };
}

/**
 * Chooses the assistant of a request: the one it names (built-in or
 * user-defined, with access checked), else by the request's shape (documents
 * too large for the model's context -> map-reduce), else the default.
 * Errors are AppErrors thrown before any streaming: `not_found` (also for another user's assistant), `forbidden`,
 * `unsupported_capability`, `invalid_request`.
 */
export class AssistantRegistry {
  readonly #deps: AssistantDeps;
  readonly #store?: AssistantService;
  readonly #builtIns: Map<string, Assistant>;

  constructor(opts: AssistantRegistryOptions) {
    this.#deps = { models: opts.models, config: resolveConfig(opts.config) };
    // a configured map or summary model that is not served would fail every such request: fail at boot
    for (const [name, id] of [
      ['mapModelId', this.#deps.config.mapModelId],
      ['summaryModelId', this.#deps.config.summaryModelId],
    ] as const) {
      if (id === undefined) continue;
      try {
        opts.models.resolve(id);
      } catch {
        throw new Error(`assistants: ${name} "${id}" is not a model this gateway serves`);
      }
    }
    this.#store = opts.store;
    this.#builtIns = new Map<string, Assistant>(
      [
        new DefaultAssistant(this.#deps),
        new MapReduceAssistant(this.#deps),
        new AgentAssistant(this.#deps),
        new CodeInterpreterAssistant(this.#deps),
      ].map((a) => [a.id, a]),
    );
  }

  /** The built-in assistants (for listings). */
  builtIns(): Array<{ id: string; name: string }> {
    return [...this.#builtIns.values()].map((a) => ({ id: a.id, name: a.name }));
  }

  /** Whether the documents, with the conversation and the answer, exceed the model's window. */
  documentsOverflow(ctx: SelectionContext): boolean {
    if (ctx.documents.length === 0) return false;
    const model = this.#deps.models.resolve(ctx.modelId);
    const need =
      documentTokens(ctx.documents) +
      estimatePromptTokens(ctx.messages) +
      answerTokens(model, ctx.params.maxTokens) +
      safetyMargin(model.contextWindow);
    return need > model.contextWindow;
  }

  async select(ctx: SelectionContext, assistantId?: string): Promise<Assistant> {
    const model = this.#deps.models.resolve(ctx.modelId);
    if (assistantId === undefined || assistantId === '')
      return announced(this.#builtIns.get(this.documentsOverflow(ctx) ? 'map-reduce' : 'default')!);

    const builtIn = this.#builtIns.get(assistantId);
    if (builtIn) {
      if (builtIn.id === 'agent') requireTools(model);
      if (builtIn.id === CODE_INTERPRETER_ID) requireCodeInterpreter(model);
      if (builtIn.id === 'map-reduce' && ctx.documents.length === 0)
        throw new AppError('invalid_request', 'The map-reduce assistant needs documents.', {
          param: 'assistantId',
        });
      return announced(builtIn);
    }

    if (!this.#store)
      throw new AppError('not_found', 'Assistant not found.', { param: 'assistantId' });
    const record = await this.#store.usable(ctx.principal, assistantId);
    const a = new UserDefinedAssistant(record, this.#deps);
    const own = this.#deps.models.resolve(a.answerModel(ctx));
    if (record.tools.includes('code_interpreter')) requireCodeInterpreter(own);
    if (record.tools.some((t) => t !== 'code_interpreter')) requireTools(own);
    return announced(a);
  }
}
