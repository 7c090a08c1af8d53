import { messageText } from '../message-text';
import { toolArgumentsObject } from './tool-arguments';
import {
  ApiError,
  type Content,
  FunctionCallingConfigMode,
  type GenerateContentConfig,
  type GenerateContentResponseUsageMetadata,
  type Part,
  ThinkingLevel,
} from '@google/genai';
import { AppError } from '@switchboard/common';
import type {
  ChatMessage,
  FinishReason,
  ProviderChatRequest,
  ReasoningEffort,
  TokenUsage,
} from '../chat.types';
import { UpstreamError, upstreamErrorFromStatus } from '../upstream-error';
import { imageMimeTypeFromUrl, isHttpsUrl, parseDataUrl, unsupportedImage } from './data-url';

/**
 * Pure mapping between the normalised chat types and the Gemini API
 * (generateContent). https://ai.google.dev/api/generate-content
 */

function userParts(m: ChatMessage): Part[] {
  if (typeof m.content === 'string') return m.content === '' ? [] : [{ text: m.content }];
  const parts: Part[] = [];
  for (const p of m.content) {
    if (p.type === 'text') {
      if (p.text !== '') parts.push({ text: p.text });
      continue;
    }
    const data = parseDataUrl(p.url);
    if (data) parts.push({ inlineData: { mimeType: data.mimeType, data: data.base64 } });
    // The Gemini API fetches public and signed https URLs itself (fileData).
    else if (isHttpsUrl(p.url))
      parts.push({ fileData: { fileUri: p.url, mimeType: imageMimeTypeFromUrl(p.url) } });
    else throw unsupportedImage('Gemini', 'images must be data: or https: URLs');
  }
  return parts;
}

/** A functionResponse must be an object: JSON objects pass through, anything else is wrapped. */
function responseObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
    return { result: parsed };
  } catch {
    return { result: text };
  }
}

/**
 * System messages become `systemInstruction`; assistant turns become role
 * "model"; tool results become `functionResponse` parts of a user turn, named
 * after the call they answer (Gemini matches responses by name). Consecutive
 * turns of one role are merged so parallel calls and their results stay paired.
 */
export function toGeminiContents(messages: ChatMessage[]): {
  systemInstruction?: Content;
  contents: Content[];
} {
  const system: string[] = [];
  const contents: Content[] = [];
  const callNames = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: Part[]): void => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts = [...(last.parts ?? []), ...parts];
    else contents.push({ role, parts });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system': {
        const text = messageText(m);
        if (text !== '') system.push(text);
        break;
      }
      case 'user':
        push('user', userParts(m));
        break;
      case 'assistant': {
        const parts: Part[] = [];
        const text = messageText(m);
        if (text !== '') parts.push({ text });
        for (const c of m.toolCalls ?? []) {
          callNames.set(c.id, c.name);
          parts.push({
            functionCall: { name: c.name, args: toolArgumentsObject(c.arguments, c.name) },
          });
        }
        push('model', parts);
        break;
      }
      case 'tool': {
        const name =
          (m.toolCallId !== undefined ? callNames.get(m.toolCallId) : undefined) ?? m.name;
        if (!name)
          throw new AppError(
            'invalid_request',
            'Gemini: a tool result does not answer any earlier tool call.',
            {
              param: 'messages',
            },
          );
        push('user', [{ functionResponse: { name, response: responseObject(messageText(m)) } }]);
        break;
      }
    }
  }
  return {
    ...(system.length ? { systemInstruction: { parts: [{ text: system.join('\n\n') }] } } : {}),
    contents,
  };
}

/** Gemini 2.5 thinking budgets per effort (Pro cannot switch thinking off). */
function thinkingConfig(
  model: string,
  effort: ReasoningEffort,
): GenerateContentConfig['thinkingConfig'] {
  if (/gemini-[3-9]/.test(model)) {
    const level = {
      minimal: ThinkingLevel.MINIMAL,
      low: ThinkingLevel.LOW,
      medium: ThinkingLevel.MEDIUM,
      high: ThinkingLevel.HIGH,
    }[effort];
    return { thinkingLevel: level };
  }
  if (model.includes('gemini-2.5')) {
    const pro = model.includes('-pro');
    const budget = { minimal: pro ? 128 : 0, low: 1024, medium: 8192, high: pro ? 32768 : 24576 }[
      effort
    ];
    return { thinkingBudget: budget };
  }
  throw new AppError(
    'unsupported_parameter',
    `Gemini: reasoning_effort is not supported for ${model}.`,
    {
      param: 'reasoning_effort',
    },
  );
}

export function buildGeminiRequest(req: ProviderChatRequest): {
  contents: Content[];
  config: GenerateContentConfig;
} {
  const { systemInstruction, contents } = toGeminiContents(req.messages);
  if (contents.length === 0)
    throw new AppError(
      'invalid_request',
      'Gemini: the conversation needs at least one user message.',
      { param: 'messages' },
    );
  const config: GenerateContentConfig = {};
  if (systemInstruction) config.systemInstruction = systemInstruction;
  if (req.maxTokens !== undefined) config.maxOutputTokens = req.maxTokens;
  if (req.temperature !== undefined) config.temperature = req.temperature;
  if (req.topP !== undefined) config.topP = req.topP;
  if (req.stop?.length) config.stopSequences = req.stop;
  if (req.tools?.length) {
    config.tools = [
      {
        functionDeclarations: req.tools.map((t) => ({
          name: t.name,
          ...(t.description ? { description: t.description } : {}),
          ...(t.parameters ? { parametersJsonSchema: t.parameters } : {}),
        })),
      },
    ];
    const choice = req.toolChoice;
    if (choice !== undefined) {
      config.toolConfig = {
        functionCallingConfig:
          choice === 'auto'
            ? { mode: FunctionCallingConfigMode.AUTO }
            : choice === 'none'
              ? { mode: FunctionCallingConfigMode.NONE }
              : choice === 'required'
                ? { mode: FunctionCallingConfigMode.ANY }
                : { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: [choice.name] },
      };
    }
  }
  // hosted code execution: Gemini runs the Python itself and returns code, result and figures as parts
  // https://ai.google.dev/gemini-api/docs/code-execution
  if (req.hostedTools?.some((t) => t.type === 'code_interpreter'))
    config.tools = [...(config.tools ?? []), { codeExecution: {} }];
  const rf = req.responseFormat;
  if (rf?.type === 'json_object') config.responseMimeType = 'application/json';
  else if (rf?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    config.responseJsonSchema = rf.schema;
  }
  if (req.reasoningEffort)
    config.thinkingConfig = thinkingConfig(req.upstreamModel, req.reasoningEffort);
  return { contents, config };
}

/**
 * Gemini's promptTokenCount already includes cachedContentTokenCount, and
 * candidatesTokenCount excludes thoughtsTokenCount (thoughts are billed as
 * output), so output = candidates + thoughts and reasoning = thoughts. Tokens of
 * tool-use prompts (toolUsePromptTokenCount) are input.
 */
export function usageFromGemini(u: GenerateContentResponseUsageMetadata): TokenUsage {
  const thoughts = u.thoughtsTokenCount ?? 0;
  return {
    inputTokens: (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0),
    cachedInputTokens: u.cachedContentTokenCount ?? 0,
    outputTokens: (u.candidatesTokenCount ?? 0) + thoughts,
    reasoningTokens: thoughts,
  };
}

export function finishFromGemini(reason: string | undefined, calledTools: boolean): FinishReason {
  switch (reason) {
    case undefined:
      return calledTools ? 'tool_calls' : 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
    case 'IMAGE_PROHIBITED_CONTENT':
      return 'content_filter';
    case 'MALFORMED_FUNCTION_CALL':
    case 'UNEXPECTED_TOOL_CALL':
      return 'error';
    default:
      // Gemini finishes a function-calling turn with STOP.
      return calledTools ? 'tool_calls' : 'stop';
  }
}

/** RetryInfo.retryDelay ("19s") from a google.rpc error body, as Gemini sends it on 429. */
export function retryDelayFromBody(message: string): number | undefined {
  const m = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(message);
  return m ? Math.ceil(Number(m[1])) : undefined;
}

const CONTEXT_EXCEEDED =
  /exceeds the maximum number of tokens|input token count .* exceeds|too many tokens/i;

/** Maps an error thrown by `@google/genai` (ApiError carries the HTTP status) or by fetch under it. */
export function mapGeminiError(
  e: unknown,
  afterFirstChunk: boolean,
  retryAfterHeader?: number,
): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof ApiError) {
    if (afterFirstChunk)
      return new UpstreamError('upstream_disconnected', e.message, false, e.status);
    if (e.status === 400 && CONTEXT_EXCEEDED.test(e.message))
      return new UpstreamError('context_length_exceeded', e.message, false, e.status);
    return upstreamErrorFromStatus(
      e.status,
      e.message,
      retryAfterHeader ?? retryDelayFromBody(e.message),
    );
  }
  const detail = e instanceof Error ? e.message : String(e);
  return new UpstreamError(
    afterFirstChunk ? 'upstream_disconnected' : 'upstream_unavailable',
    detail,
    !afterFirstChunk,
  );
}

/** File extension of a figure Gemini's code produced, from its media type. */
export function figureName(n: number, mimeType: string | undefined): string {
  const sub = /^image\/([a-z0-9+.-]+)$/i.exec(mimeType ?? '')?.[1]?.toLowerCase();
  const ext = sub === 'jpeg' ? 'jpg' : sub === 'svg+xml' ? 'svg' : (sub ?? 'bin');
  return `figure-${n}.${ext}`;
}
