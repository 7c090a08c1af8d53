import { AppError } from '@switchboard/common';
import {
  type CatalogueModel,
  type ChatEvent,
  type ChatMessage,
  type FinishReason,
  type TokenUsage,
} from '@switchboard/llm';
import {
  EMPTY,
  Observable,
  concat,
  concatMap,
  defer,
  from,
  map,
  mergeMap,
  of,
  takeUntil,
  tap,
  timer,
} from 'rxjs';
import { ToolCallAccumulator, addUsage, emit, statusEvent } from '../assistant-events';
import type { Assistant, AssistantRunContext } from '../assistant.port';
import { answerTokens, type AssistantDeps } from '../assistants.config';
import { afterFit, fitConversation, planFit } from '../context/context-fit';
import {
  buildMessages,
  holdCap,
  holdTokens,
  summaryModelOf,
  type AnswerShape,
  type PlanContext,
  type PlannedCall,
} from '../default.assistant';
import { builtInTools } from './built-in.tools';
import { toolDefinition, type AgentTool } from './tool';
import { ToolRunner } from './tool-runner';

export const AGENT_STATUS_ID = 'agent';

export interface AgentShape extends AnswerShape {
  tools: AgentTool[];
}

/** Why an agent run ended. */
export type AgentEnd = 'answered' | 'max_steps' | 'deadline';

export function requireTools(model: CatalogueModel): void {
  if (!model.capabilities.includes('tools'))
    throw new AppError(
      'unsupported_capability',
      `The model "${model.id}" does not support tool calling, which this assistant needs.`,
      { param: 'model' },
    );
}

/**
 * The agent's worst case: every step a full prompt (capped at the window) and a
 * full answer.
 */
export function planAgent(deps: AssistantDeps, ctx: PlanContext, shape: AgentShape): PlannedCall[] {
  const model = deps.models.resolve(shape.modelId);
  const maxOut = answerTokens(model, ctx.params.maxTokens);
  const tools = shape.tools.map(toolDefinition);
  const messages = buildMessages(ctx, shape);
  // refuses (context_length_exceeded) before streaming when even the last message cannot fit
  planFit({ messages, model, maxOutputTokens: maxOut, tools });
  const base = holdTokens(messages, tools);
  // each step adds the model's turn and tool results of up to toolResultMaxChars
  const perStepGrowth = Math.ceil(deps.config.toolResultMaxChars / 3) + maxOut;
  return Array.from({ length: deps.config.agentMaxSteps }, (_, i) => ({
    modelId: model.id,
    promptTokens: Math.min(base + i * perStepGrowth, holdCap(model.contextWindow, maxOut)),
    maxOutputTokens: maxOut,
  }));
}

/**
 * The tool-calling loop: call the model with the tools; when it calls tools,
 * validate and run them and feed the results back (the assistant message with
 * its tool calls first, then one `tool` message per call); repeat until it
 * answers without tools, `agentMaxSteps` model calls were made, or the
 * wall-clock deadline passes. Text streams as it comes; tool calls and results
 * stream as status events; the run ends with one `usage` event (the sum over
 * all steps) and one `finish` (`length` when a limit stopped it, with a final
 * status naming the limit).
 */
export function runAgent(
  deps: AssistantDeps,
  ctx: AssistantRunContext,
  shape: AgentShape,
): Observable<ChatEvent> {
  return defer(() => new AgentRun(deps, ctx, shape).run());
}

type ToolCalls = ReturnType<ToolCallAccumulator['calls']>;

/** The state of one agent run (steps taken, usage so far, whether it ended) and its steps. */
class AgentRun {
  private readonly model: CatalogueModel;
  private readonly maxSteps: number;
  private readonly deadlineMs: number;
  private readonly runner: ToolRunner;
  private readonly params: AssistantRunContext['params'] & {
    tools: ReturnType<typeof toolDefinition>[];
    toolChoice: 'auto';
  };
  private readonly deadline = new AbortController();
  private readonly toolSignal: AbortSignal;
  private usage: TokenUsage | undefined;
  private steps = 0;
  private ended = false;

  constructor(
    private readonly deps: AssistantDeps,
    private readonly ctx: AssistantRunContext,
    private readonly shape: AgentShape,
  ) {
    this.model = deps.models.resolve(shape.modelId);
    requireTools(this.model);
    this.maxSteps = deps.config.agentMaxSteps;
    this.deadlineMs = deps.config.agentDeadlineMs;
    this.runner = new ToolRunner(shape.tools, {
      timeoutMs: deps.config.toolTimeoutMs,
      maxResultChars: deps.config.toolResultMaxChars,
    });
    // the client's own tools cannot run here: the agent offers its tools only
    this.params = {
      ...ctx.params,
      tools: shape.tools.map(toolDefinition),
      toolChoice: 'auto' as const,
    };
    this.toolSignal = AbortSignal.any([ctx.signal, this.deadline.signal]);
  }

  /** fits the conversation, then steps until an answer, the step limit or the deadline */
  run(): Observable<ChatEvent> {
    const { deps, ctx, model } = this;
    const fit$ = fitConversation({
      messages: buildMessages(ctx, this.shape),
      model,
      maxOutputTokens: answerTokens(model, ctx.params.maxTokens),
      tools: this.params.tools,
      caller: ctx.caller,
      summaryModel: summaryModelOf(deps, model.id),
      summaryMaxTokens: deps.config.summaryMaxTokens,
    });
    const deadline$ = timer(this.deadlineMs).pipe(tap(() => this.deadline.abort()));
    return concat(
      afterFit(fit$, (messages) => this.step(messages)).pipe(takeUntil(deadline$)),
      defer(() => (this.ended ? EMPTY : this.end('deadline', 'length'))),
    );
  }

  /** one model call; then the answer, or its tool calls run and the next step */
  private step(messages: ChatMessage[]): Observable<ChatEvent> {
    return defer(() => {
      this.steps++;
      const acc = new ToolCallAccumulator();
      let text = '';
      let finish: FinishReason | undefined;
      const call$ = this.ctx.caller.call(this.model.id, messages, this.params).pipe(
        mergeMap((e): Observable<ChatEvent> => {
          switch (e.type) {
            case 'text':
              text += e.text;
              return of(e);
            case 'tool_call':
              acc.add(e);
              return EMPTY;
            case 'usage':
              this.usage = this.usage ? addUsage(this.usage, e.usage) : e.usage;
              return EMPTY;
            case 'finish':
              finish = e.reason;
              return EMPTY;
            case 'status':
            case 'state':
            case 'artifact':
              return of(e);
          }
        }),
      );
      const next$ = defer(() => {
        const calls = acc.calls(`call_${this.steps}`);
        if (calls.length === 0) return this.end('answered', finish ?? 'stop');
        if (this.steps >= this.maxSteps) return this.end('max_steps', 'length');
        const results: ChatMessage[] = [];
        const assistantTurn: ChatMessage = { role: 'assistant', content: text, toolCalls: calls };
        return concat(
          this.runTools(calls, results),
          defer(() => this.step([...messages, assistantTurn, ...results])),
        );
      });
      return concat(call$, next$);
    });
  }

  /** runs the calls one after the other; their result messages go to `results` */
  private runTools(calls: ToolCalls, results: ChatMessage[]): Observable<ChatEvent> {
    const { ctx } = this;
    return from(calls).pipe(
      concatMap((call) =>
        concat(
          emit<ChatEvent>(
            statusEvent(`tool-${call.id}`, `calling ${call.name}`, true, {
              tool: call.name,
              arguments: call.arguments.slice(0, 500),
            }),
          ),
          this.runner
            .run(call, { principal: ctx.principal, docs: ctx.docs, signal: this.toolSignal })
            .pipe(
              map((o) => {
                results.push({
                  role: 'tool',
                  toolCallId: call.id,
                  name: call.name,
                  content: o.content,
                });
                return statusEvent(
                  `tool-${call.id}`,
                  o.ok ? `${call.name} returned ${o.summary}` : `${call.name} failed: ${o.summary}`,
                  false,
                  { tool: call.name, ok: o.ok },
                );
              }),
            ),
        ),
      ),
    );
  }

  /** the final status naming why the run ended, the summed usage, and the finish */
  private end(why: AgentEnd, reason: FinishReason): Observable<ChatEvent> {
    return defer(() => {
      this.ended = true;
      const { steps } = this;
      const message =
        why === 'answered'
          ? `answered after ${steps} step${steps === 1 ? '' : 's'}`
          : why === 'max_steps'
            ? `stopped: step limit of ${this.maxSteps} model calls reached without a final answer`
            : `stopped: time limit of ${Math.round(this.deadlineMs / 1000)} s reached`;
      return emit<ChatEvent>(
        statusEvent(AGENT_STATUS_ID, message, false, { end: why, steps }),
        ...(this.usage ? [{ type: 'usage' as const, usage: this.usage }] : []),
        { type: 'finish', reason },
      );
    });
  }
}

/** The built-in agent: every built-in tool (`fetch_url` only when the operator enabled it). */
export class AgentAssistant implements Assistant {
  readonly id = 'agent';
  readonly name = 'Agent with tools';

  constructor(private readonly deps: AssistantDeps) {}

  #shape(ctx: PlanContext): AgentShape {
    return {
      modelId: ctx.modelId,
      documents: ctx.documents,
      tools: [...builtInTools({ urlFetcher: this.deps.config.urlFetcher }).values()],
    };
  }

  plan(ctx: PlanContext): PlannedCall[] {
    return planAgent(this.deps, ctx, this.#shape(ctx));
  }

  run(ctx: AssistantRunContext): Observable<ChatEvent> {
    return runAgent(this.deps, ctx, this.#shape(ctx));
  }
}
