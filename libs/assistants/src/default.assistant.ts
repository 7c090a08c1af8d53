import {
  estimatePromptTokens,
  type ChatEvent,
  type ChatMessage,
  type ToolDefinition,
} from '@switchboard/llm';
import { Observable, defer } from 'rxjs';
import { answerTokens, type AssistantDeps } from './assistants.config';
import type { Assistant, AssistantRunContext } from './assistant.port';
import { afterFit, fitConversation, planFit } from './context/context-fit';
import { documentsMessage, textOf, withSystem, type PromptDocument } from './prompt';

export type PlanContext = Omit<AssistantRunContext, 'caller' | 'signal'>;

export interface PlannedCall {
  modelId: string;
  promptTokens: number;
  maxOutputTokens: number;
  /** hosted code-interpreter containers the call may open */
  codeInterpreterSessions?: number;
}

/** How one answer is put together: the model, extra system messages, documents. */
export interface AnswerShape {
  modelId: string;
  /** system messages placed before everything else (assistant instructions) */
  instructions?: ChatMessage[];
  /** system messages placed after the caller's system prompt, before the documents */
  context?: ChatMessage[];
  documents: PromptDocument[];
}

export function buildMessages(
  ctx: Pick<PlanContext, 'messages'>,
  shape: AnswerShape,
): ChatMessage[] {
  return [
    ...(shape.instructions ?? []),
    ...withSystem(ctx.messages, [...(shape.context ?? []), documentsMessage(shape.documents)]),
  ];
}

/**
 * Prompt tokens of a call for a budget hold: the larger of the o200k estimate
 * and one token per 4 characters plus 4 per message, since providers'
 * tokenizers differ from the estimator and a hold must cover what is billed.
 */
export function holdTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number {
  let chars = tools?.length ? JSON.stringify(tools).length : 0;
  for (const m of messages) {
    chars += textOf(m.content).length;
    for (const c of m.toolCalls ?? []) chars += c.name.length + c.arguments.length;
  }
  return Math.max(
    estimatePromptTokens(messages, tools),
    Math.ceil(chars / 4) + 4 * messages.length,
  );
}

/** The most prompt a fitted call can carry, in hold terms (estimator error included). */
export function holdCap(window: number, maxOutputTokens: number): number {
  return Math.ceil((window - maxOutputTokens) * 1.25);
}

/** The summary model, or undefined when none applies. */
export function summaryModelOf(deps: AssistantDeps, mainModelId: string) {
  const id = deps.config.summaryModelId ?? deps.config.mapModelId ?? mainModelId;
  return deps.models.resolve(id);
}

/** The calls of one fitted answer: a summary call when history must go, then the answer. */
export function planAnswer(
  deps: AssistantDeps,
  ctx: PlanContext,
  shape: AnswerShape,
): PlannedCall[] {
  const model = deps.models.resolve(shape.modelId);
  const maxOut = answerTokens(model, ctx.params.maxTokens);
  const messages = buildMessages(ctx, shape);
  const summaryModel = summaryModelOf(deps, shape.modelId);
  const fit = planFit({
    messages,
    model,
    maxOutputTokens: maxOut,
    tools: ctx.params.tools,
    summaryModel,
    summaryMaxTokens: deps.config.summaryMaxTokens,
  });
  const calls: PlannedCall[] = [];
  if (fit.summaryTokens > 0)
    calls.push({
      modelId: summaryModel.id,
      promptTokens: Math.min(
        holdTokens(fit.dropped) + 600,
        holdCap(summaryModel.contextWindow, fit.summaryTokens),
      ),
      maxOutputTokens: fit.summaryTokens,
    });
  calls.push({
    modelId: model.id,
    promptTokens: Math.min(
      holdTokens(messages, ctx.params.tools),
      holdCap(model.contextWindow, maxOut),
    ),
    maxOutputTokens: maxOut,
  });
  return calls;
}

/** One model call over the (fitted) conversation; its events pass straight through. */
export function runAnswer(
  deps: AssistantDeps,
  ctx: AssistantRunContext,
  shape: AnswerShape,
): Observable<ChatEvent> {
  return defer(() => {
    const model = deps.models.resolve(shape.modelId);
    const maxOut = answerTokens(model, ctx.params.maxTokens);
    const fit = {
      messages: buildMessages(ctx, shape),
      model,
      maxOutputTokens: maxOut,
      tools: ctx.params.tools,
      caller: ctx.caller,
      summaryModel: summaryModelOf(deps, shape.modelId),
      summaryMaxTokens: deps.config.summaryMaxTokens,
    };
    // the usual case: the conversation fits, and the call is the whole answer
    if (planFit(fit).fits) return ctx.caller.call(model.id, fit.messages, ctx.params);
    return afterFit(fitConversation(fit), (messages) =>
      ctx.caller.call(model.id, messages, ctx.params),
    );
  });
}

/** System prompt + history + documents (with source delimiters) -> one model call. */
export class DefaultAssistant implements Assistant {
  readonly id = 'default';
  readonly name = 'Default';

  constructor(private readonly deps: AssistantDeps) {}

  plan(ctx: PlanContext): PlannedCall[] {
    return planAnswer(this.deps, ctx, { modelId: ctx.modelId, documents: ctx.documents });
  }

  run(ctx: AssistantRunContext): Observable<ChatEvent> {
    return runAnswer(this.deps, ctx, { modelId: ctx.modelId, documents: ctx.documents });
  }
}
