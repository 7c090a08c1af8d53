import { messageText } from '../message-text';
import { toolArgumentsObject } from './tool-arguments';
import type {
  ContentBlock,
  ConverseStreamRequest,
  InferenceConfiguration,
  Message,
  SystemContentBlock,
  TokenUsage as BedrockTokenUsage,
  Tool,
  ToolConfiguration,
  ToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { AppError } from '@switchboard/common';
import type {
  ChatMessage,
  FinishReason,
  ProviderChatRequest,
  ReasoningEffort,
  TokenUsage,
} from '../chat.types';
import { parseRetryAfter, UpstreamError, upstreamErrorFromStatus } from '../upstream-error';
import { isHttpsUrl, parseDataUrl, unsupportedImage } from './data-url';

/**
 * Pure mapping between the normalised chat types and Amazon Bedrock's Converse
 * API. https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 */

type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

function imageFormat(mimeType: string): ImageFormat | undefined {
  switch (mimeType) {
    case 'image/png':
      return 'png';
    case 'image/jpeg':
    case 'image/jpg':
      return 'jpeg';
    case 'image/gif':
      return 'gif';
    case 'image/webp':
      return 'webp';
    default:
      return undefined;
  }
}

function userBlocks(m: ChatMessage): ContentBlock[] {
  if (typeof m.content === 'string') return m.content === '' ? [] : [{ text: m.content }];
  const blocks: ContentBlock[] = [];
  for (const p of m.content) {
    if (p.type === 'text') {
      // Converse rejects blank text blocks.
      if (p.text !== '') blocks.push({ text: p.text });
      continue;
    }
    const data = parseDataUrl(p.url);
    if (!data) {
      throw unsupportedImage(
        'Bedrock',
        isHttpsUrl(p.url)
          ? 'image URLs are not supported by the Converse API; send the image as a data: URL'
          : 'images must be data: URLs',
      );
    }
    const format = imageFormat(data.mimeType);
    if (!format)
      throw unsupportedImage(
        'Bedrock',
        `image type ${data.mimeType} is not supported (png, jpeg, gif, webp)`,
      );
    blocks.push({ image: { format, source: { bytes: Buffer.from(data.base64, 'base64') } } });
  }
  return blocks;
}

/**
 * System messages become `system` blocks; tool results become `toolResult`
 * blocks of a user turn; consecutive turns of one role are merged, because
 * Converse requires user and assistant turns to alternate.
 */
export function toConverseMessages(messages: ChatMessage[]): {
  system: SystemContentBlock[];
  messages: Message[];
} {
  const system: SystemContentBlock[] = [];
  const out: Message[] = [];
  const push = (role: 'user' | 'assistant', content: ContentBlock[]): void => {
    if (content.length === 0) return;
    const last = out.at(-1);
    if (last?.role === role) last.content = [...(last.content ?? []), ...content];
    else out.push({ role, content });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system': {
        const text = messageText(m);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user':
        push('user', userBlocks(m));
        break;
      case 'assistant': {
        const blocks: ContentBlock[] = [];
        const text = messageText(m);
        if (text !== '') blocks.push({ text });
        for (const c of m.toolCalls ?? [])
          blocks.push({
            toolUse: {
              toolUseId: c.id,
              name: c.name,
              input: toolArgumentsObject(c.arguments, c.name) as NonNullable<ToolUseBlock['input']>,
            },
          });
        push('assistant', blocks);
        break;
      }
      case 'tool':
        push('user', [
          {
            toolResult: {
              toolUseId: m.toolCallId ?? '',
              content: [{ text: messageText(m) || '(empty)' }],
              status: 'success',
            },
          },
        ]);
        break;
    }
  }
  return { system, messages: out };
}

function hasToolBlocks(messages: Message[]): boolean {
  return messages.some((m) =>
    (m.content ?? []).some((b) => b.toolUse !== undefined || b.toolResult !== undefined),
  );
}

function toolConfig(req: ProviderChatRequest, messages: Message[]): ToolConfiguration | undefined {
  if (!req.tools?.length) return undefined;
  const choice = req.toolChoice;
  if (choice === 'none') {
    // Converse has no "none": drop the tools, unless history needs them declared.
    if (!hasToolBlocks(messages)) return undefined;
    throw new AppError(
      'unsupported_parameter',
      'Bedrock: tool_choice "none" is not supported once tools were used in the conversation.',
      {
        param: 'tool_choice',
      },
    );
  }
  return {
    tools: req.tools.map((t): Tool => ({
      toolSpec: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        inputSchema: {
          json: (t.parameters ?? { type: 'object', properties: {} }) as NonNullable<
            ToolUseBlock['input']
          >,
        },
      },
    })),
    ...(choice === undefined || choice === 'auto'
      ? {}
      : choice === 'required'
        ? { toolChoice: { any: {} } }
        : { toolChoice: { tool: { name: choice.name } } }),
  };
}

/** Claude extended-thinking budgets (budget_tokens >= 1024 and < max tokens). */
const CLAUDE_THINKING_BUDGET: Record<ReasoningEffort, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
};
const CLAUDE_ANSWER_ROOM = 8192;

/**
 * Reasoning effort for the model families whose request field is documented:
 * Anthropic Claude (`thinking.budget_tokens`, which counts against max tokens,
 * like OpenAI's reasoning tokens count against max_completion_tokens) and
 * OpenAI gpt-oss (its own `reasoning_effort`, passed through
 * additionalModelRequestFields). Anything else is refused rather than ignored.
 */
function reasoningFields(
  req: ProviderChatRequest,
  inference: InferenceConfiguration,
): Record<string, unknown> | undefined {
  const effort = req.reasoningEffort;
  if (!effort) return undefined;
  const model = req.upstreamModel;
  if (model.includes('anthropic.claude')) {
    let budget = CLAUDE_THINKING_BUDGET[effort];
    if (inference.maxTokens !== undefined) {
      if (inference.maxTokens <= 1024)
        throw new AppError(
          'unsupported_parameter',
          'Bedrock Claude: max_tokens must exceed 1024 when reasoning_effort is set.',
          {
            param: 'max_tokens',
          },
        );
      budget = Math.min(budget, inference.maxTokens - 1);
    } else {
      inference.maxTokens = budget + CLAUDE_ANSWER_ROOM;
    }
    return { thinking: { type: 'enabled', budget_tokens: budget } };
  }
  if (model.includes('openai.gpt-oss'))
    return { reasoning_effort: effort === 'minimal' ? 'low' : effort };
  throw new AppError(
    'unsupported_parameter',
    `Bedrock: reasoning_effort is not supported for ${model}.`,
    {
      param: 'reasoning_effort',
    },
  );
}

/** The ConverseStream request (the same body serves Converse). */
export function buildConverseRequest(req: ProviderChatRequest): ConverseStreamRequest {
  const { system, messages } = toConverseMessages(req.messages);
  if (messages.length === 0)
    throw new AppError(
      'invalid_request',
      'Bedrock: the conversation needs at least one user message.',
      { param: 'messages' },
    );

  const inference: InferenceConfiguration = {};
  if (req.maxTokens !== undefined) inference.maxTokens = req.maxTokens;
  if (req.temperature !== undefined) inference.temperature = req.temperature;
  if (req.topP !== undefined) inference.topP = req.topP;
  if (req.stop?.length) inference.stopSequences = req.stop;
  const additional = reasoningFields(req, inference);

  const input: ConverseStreamRequest = { modelId: req.upstreamModel, messages };
  if (system.length) input.system = system;
  if (Object.keys(inference).length) input.inferenceConfig = inference;
  const tools = toolConfig(req, messages);
  if (tools) input.toolConfig = tools;
  if (additional)
    input.additionalModelRequestFields = additional as NonNullable<ToolUseBlock['input']>;

  const rf = req.responseFormat;
  if (rf?.type === 'json_object')
    throw new AppError(
      'unsupported_parameter',
      'Bedrock: response_format json_object is not supported; use json_schema.',
      {
        param: 'response_format',
      },
    );
  if (rf?.type === 'json_schema') {
    input.outputConfig = {
      textFormat: {
        type: 'json_schema',
        structure: { jsonSchema: { name: rf.name, schema: JSON.stringify(rf.schema) } },
      },
    };
  }
  return input;
}

/**
 * Bedrock's `inputTokens` excludes prompt-cache reads and writes, which are
 * reported beside it; the normalised input count includes them (OpenAI's
 * convention), and cached input = cache reads. Bedrock does not break
 * reasoning tokens out of `outputTokens`.
 */
export function usageFromBedrock(u: BedrockTokenUsage): TokenUsage {
  const cacheRead = u.cacheReadInputTokens ?? 0;
  const cacheWrite = u.cacheWriteInputTokens ?? 0;
  return {
    inputTokens: (u.inputTokens ?? 0) + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    outputTokens: u.outputTokens ?? 0,
    reasoningTokens: 0,
  };
}

export function finishFromBedrock(reason: string | undefined): FinishReason {
  switch (reason) {
    case undefined:
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'content_filtered':
    case 'guardrail_intervened':
      return 'content_filter';
    case 'malformed_model_output':
    case 'malformed_tool_use':
      return 'error';
    default:
      return 'stop';
  }
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

function header(
  headers: Record<string, string | undefined> | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

const CONTEXT_EXCEEDED =
  /too long|too many (input )?tokens|context (length|window)|maximum context|exceeds? .*(token|context)/i;

/**
 * Maps an error thrown by the Bedrock runtime client (modelled exceptions carry
 * their name and `$metadata.httpStatusCode`) or by the HTTP layer under it.
 * After the first stream event nothing is retryable: the client already saw output.
 */
export function mapBedrockError(e: unknown, afterFirstEvent: boolean): AppError {
  if (e instanceof AppError) return e;
  const err = (typeof e === 'object' && e !== null ? e : {}) as SdkErrorShape;
  const detail = err.message ?? String(e);
  const status = err.$metadata?.httpStatusCode;
  if (afterFirstEvent) return new UpstreamError('upstream_disconnected', detail, false, status);
  switch (err.name) {
    case undefined:
      break;
    case 'ThrottlingException':
    case 'ServiceQuotaExceededException':
      return new UpstreamError(
        'upstream_rate_limited',
        detail,
        true,
        status ?? 429,
        parseRetryAfter(header(err.$response?.headers, 'retry-after')),
      );
    case 'ServiceUnavailableException':
    case 'ModelNotReadyException':
      return new UpstreamError('upstream_unavailable', detail, true, status ?? 503);
    case 'InternalServerException':
    case 'ModelStreamErrorException':
      return new UpstreamError('upstream_error', detail, true, status ?? 500);
    case 'ModelTimeoutException':
      return new UpstreamError('upstream_timeout', detail, true, status ?? 408);
    case 'ValidationException':
      return CONTEXT_EXCEEDED.test(detail)
        ? new UpstreamError('context_length_exceeded', detail, false, status ?? 400)
        : new UpstreamError('invalid_request', detail, false, status ?? 400);
    default:
      break;
  }
  if (status !== undefined) return upstreamErrorFromStatus(status, detail);
  // No HTTP status: the connection itself failed (refused, reset, TLS...).
  return new UpstreamError('upstream_unavailable', detail, true);
}
