import { estimateTextTokens, type ChatEvent, type ChatMessage } from '@switchboard/llm';
import { Observable, concat, defer, from, mergeMap, of } from 'rxjs';
import { emit, statusEvent } from '../assistant-events';
import type { Assistant, AssistantRunContext } from '../assistant.port';
import { answerTokens, type AssistantDeps } from '../assistants.config';
import { planAgent, runAgent } from '../agent/agent.assistant';
import {
  storeArtifacts,
  withCodeInterpreter,
  withCodeSessions,
} from '../code-interpreter/code-interpreter.assistant';
import { builtInTools } from '../agent/built-in.tools';
import type { AgentTool } from '../agent/tool';
import {
  holdCap,
  planAnswer,
  runAnswer,
  type AnswerShape,
  type PlanContext,
  type PlannedCall,
} from '../default.assistant';
import { lastUserText, type PromptDocument } from '../prompt';
import type { AssistantRecord } from './assistant.types';

export const RETRIEVAL_STATUS_ID = 'assistant-files';
const RETRIEVAL_K = 8;

/**
 * An assistant a user defined: its instructions come first in the prompt, its
 * attached files and tags are always used through retrieval (the passages that
 * match the user's last message, within a quarter of the window), and with
 * tools enabled it runs the agent loop restricted to those tools; with
 * `code_interpreter` its model calls run code on the provider and the files
 * the code produced are stored as the user's files.
 */
export class UserDefinedAssistant implements Assistant {
  readonly id: string;
  readonly name: string;

  constructor(
    readonly record: AssistantRecord,
    private readonly deps: AssistantDeps,
  ) {
    this.id = record.id;
    this.name = record.name;
  }

  answerModel(ctx: { modelId: string }): string {
    return this.record.model ?? ctx.modelId;
  }

  #tools(): AgentTool[] {
    const all = builtInTools({
      urlFetcher: this.deps.config.urlFetcher,
      scope: { fileIds: this.record.fileIds, tags: this.record.tags },
    });
    return this.record.tools.flatMap((n) => all.get(n) ?? []);
  }

  #instructions(): ChatMessage[] {
    return this.record.instructions.trim()
      ? [{ role: 'system', content: this.record.instructions }]
      : [];
  }

  #retrievalBudget(modelId: string): number {
    const window = this.deps.models.resolve(modelId).contextWindow;
    return Math.min(8000, Math.floor(window / 4));
  }

  #hasAttachments(): boolean {
    return this.record.fileIds.length > 0 || this.record.tags.length > 0;
  }

  plan(ctx: PlanContext): PlannedCall[] {
    const modelId = this.answerModel(ctx);
    const shape: AnswerShape = {
      modelId,
      instructions: this.#instructions(),
      documents: ctx.documents,
    };
    const tools = this.#tools();
    let calls =
      tools.length > 0
        ? planAgent(this.deps, ctx, { ...shape, tools })
        : planAnswer(this.deps, ctx, shape);
    if (this.record.tools.includes('code_interpreter')) calls = withCodeSessions(calls, modelId);
    if (!this.#hasAttachments()) return calls;
    const model = this.deps.models.resolve(modelId);
    const extra = this.#retrievalBudget(modelId);
    const cap = holdCap(model.contextWindow, answerTokens(model, ctx.params.maxTokens));
    return calls.map((c) =>
      c.modelId === modelId ? { ...c, promptTokens: Math.min(c.promptTokens + extra, cap) } : c,
    );
  }

  run(runCtx: AssistantRunContext): Observable<ChatEvent> {
    if (!this.record.tools.includes('code_interpreter')) return this.#run(runCtx);
    return this.#run(withCodeInterpreter(runCtx)).pipe(storeArtifacts(runCtx));
  }

  #run(ctx: AssistantRunContext): Observable<ChatEvent> {
    return defer(() => {
      const modelId = this.answerModel(ctx);
      const answer = (retrieved: PromptDocument[]) => {
        const shape: AnswerShape = {
          modelId,
          instructions: this.#instructions(),
          documents: [...ctx.documents, ...retrieved],
        };
        const tools = this.#tools();
        return tools.length > 0
          ? runAgent(this.deps, ctx, { ...shape, tools })
          : runAnswer(this.deps, ctx, shape);
      };
      if (!this.#hasAttachments()) return answer([]);

      const retrieve = async (): Promise<PromptDocument[]> => {
        const hits = await ctx.docs.search(lastUserText(ctx.messages), {
          fileIds: this.record.fileIds.length ? this.record.fileIds : undefined,
          tags: this.record.tags.length ? this.record.tags : undefined,
          k: RETRIEVAL_K,
        });
        let budget = this.#retrievalBudget(modelId);
        const docs: PromptDocument[] = [];
        for (const h of hits) {
          const t = estimateTextTokens(h.text) + 32;
          if (t > budget) break;
          budget -= t;
          docs.push({ fileId: h.fileId, name: h.name, location: h.location, text: h.text });
        }
        return docs;
      };
      return concat(
        of(statusEvent(RETRIEVAL_STATUS_ID, "searching the assistant's files", true)),
        from(retrieve()).pipe(
          mergeMap((docs) =>
            concat(
              emit<ChatEvent>(
                statusEvent(
                  RETRIEVAL_STATUS_ID,
                  `found ${docs.length} passages in the assistant's files`,
                  false,
                ),
                {
                  type: 'state',
                  state: {
                    sources: {
                      documents: {
                        sources: docs.map((d, i) => ({
                          n: i + 1,
                          fileId: d.fileId,
                          name: d.name,
                          location: d.location ?? '',
                        })),
                      },
                    },
                  },
                },
              ),
              answer(docs),
            ),
          ),
        ),
      );
    });
  }
}
