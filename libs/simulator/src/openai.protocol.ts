import type { ChatDialect, ErrorReply, SimErrorKind, StreamEncoder } from './dialect';
import { embedText, embeddingTokens, toBase64 } from './embedding';
import { joinPieces, type SimChatRequest, type SimMessage, type SimReply } from './reply.planner';
import { openAiChatShape } from './structured-output';
import { BadRequest, intOrUndefined, isRecord, joinSegments, str } from './wire.util';

/**
 * OpenAI Chat Completions, Embeddings and Models wire formats, shared by Azure
 * OpenAI (same bodies; the deployment in the path is the model).
 * https://platform.openai.com/docs/api-reference/chat-streaming
 */

export const DEFAULT_EMBEDDING_DIMENSIONS = 1536;

export const SIM_OPENAI_MODELS: readonly string[] = [
  'gpt-4o',
  'gpt-4o-mini',
  'gpt-4.1',
  'gpt-4.1-mini',
  'o4-mini',
  'text-embedding-3-small',
  'text-embedding-3-large',
];

export interface OpenAiChatCall {
  request: SimChatRequest;
  stream: boolean;
  includeUsage: boolean;
}

/** Reads a Chat Completions body; `model` overrides the body's (Azure deployments). */
export function parseOpenAiChat(body: unknown, model?: string): OpenAiChatCall {
  if (!isRecord(body)) throw new BadRequest('Request body must be a JSON object.');
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new BadRequest("'messages' must be a non-empty array.");
  }
  const resolvedModel = model ?? (typeof body.model === 'string' ? body.model : undefined);
  if (resolvedModel === undefined || resolvedModel === '') {
    throw new BadRequest('you must provide a model parameter');
  }
  const messages = body.messages.map(toSimMessage);
  const maxTokens = intOrUndefined(body.max_completion_tokens) ?? intOrUndefined(body.max_tokens);
  const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
  return {
    request: { model: resolvedModel, messages, maxTokens, ...openAiChatShape(body) },
    stream: body.stream === true,
    includeUsage: body.stream === true && streamOptions.include_usage === true,
  };
}

function toSimMessage(raw: unknown): SimMessage {
  if (!isRecord(raw)) throw new BadRequest('Each message must be an object.');
  const role = raw.role === 'developer' ? 'system' : raw.role;
  if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool') {
    throw new BadRequest(`Invalid value for 'role': ${String(raw.role)}.`);
  }
  const segments = contentSegments(raw.content);
  if (role === 'assistant' && Array.isArray(raw.tool_calls)) {
    for (const call of raw.tool_calls) {
      if (isRecord(call) && isRecord(call.function)) {
        segments.push(`${str(call.function.name)}${str(call.function.arguments)}`);
      }
    }
  }
  const text = joinSegments(segments);
  const message: SimMessage = { role, text };
  if (role === 'tool' && typeof raw.name === 'string') message.toolName = raw.name;
  return message;
}

function contentSegments(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  const segments: string[] = [];
  for (const part of content) {
    if (isRecord(part) && typeof part.text === 'string') segments.push(part.text);
  }
  return segments;
}

/**
 * Azure prepends a chunk with empty `choices` carrying the prompt's content-filter
 * verdict; clients must cope with it, so the simulator sends it too.
 * https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter
 */
const AZURE_FILTER_PREAMBLE =
  'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":' +
  '[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},' +
  '"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},' +
  '"violence":{"filtered":false,"severity":"safe"}}}]}\n\n';

export function openAiDialect(includeUsage: boolean, model: string, azure = false): ChatDialect {
  const requestId = `req_sim${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  return {
    streamHeaders: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': requestId,
    },
    responseHeaders: { 'x-request-id': requestId },
    encoder: (reply) => new OpenAiEncoder(reply, model, includeUsage, azure),
    body: (reply) => completionBody(reply, model),
    error: openAiError,
  };
}

function completionId(): string {
  return `chatcmpl-sim${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

function finishReason(reply: SimReply): string {
  return reply.finish;
}

export function openAiUsage(reply: SimReply): Record<string, unknown> {
  const u = reply.usage;
  const completion = u.outputTokens + u.reasoningTokens;
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: completion,
    total_tokens: u.inputTokens + completion,
    prompt_tokens_details: { cached_tokens: u.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function completionBody(reply: SimReply, model: string): unknown {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: null,
    refusal: null,
    annotations: [],
  };
  if (reply.toolCall !== undefined) {
    message.tool_calls = [
      {
        id: reply.toolCall.id,
        type: 'function',
        function: { name: reply.toolCall.name, arguments: reply.toolCall.arguments },
      },
    ];
  } else {
    message.content = joinPieces(reply.pieces);
  }
  return {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(reply) }],
    usage: openAiUsage(reply),
    service_tier: 'default',
    system_fingerprint: 'fp_switchboard_sim',
  };
}

class OpenAiEncoder implements StreamEncoder {
  private readonly prefix: string;

  constructor(
    private readonly reply: SimReply,
    model: string,
    private readonly includeUsage: boolean,
    private readonly azure: boolean,
  ) {
    const created = Math.floor(Date.now() / 1000);
    // Every chunk shares id/created/model; build the JSON prefix once.
    this.prefix =
      `{"id":${JSON.stringify(completionId())},"object":"chat.completion.chunk","created":${created},` +
      `"model":${JSON.stringify(model)},"service_tier":"default","system_fingerprint":"fp_switchboard_sim",`;
  }

  open(): string {
    const call = this.reply.toolCall;
    const delta =
      call === undefined
        ? { role: 'assistant', content: '', refusal: null }
        : {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                index: 0,
                id: call.id,
                type: 'function',
                function: { name: call.name, arguments: '' },
              },
            ],
          };
    const first = this.chunk(delta, null);
    return this.azure ? AZURE_FILTER_PREAMBLE + first : first;
  }

  piece(index: number): string {
    const text = this.reply.pieces.at(index);
    const delta =
      this.reply.toolCall === undefined
        ? { content: text }
        : { tool_calls: [{ index: 0, function: { arguments: text } }] };
    return this.chunk(delta, null);
  }

  close(): string {
    let out = this.chunk({}, finishReason(this.reply));
    if (this.includeUsage) {
      out += `data: ${this.prefix}"choices":[],"usage":${JSON.stringify(openAiUsage(this.reply))}}\n\n`;
    }
    return `${out}data: [DONE]\n\n`;
  }

  private chunk(delta: unknown, finish: string | null): string {
    const choice = `[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]`;
    const usage = this.includeUsage ? ',"usage":null' : '';
    return `data: ${this.prefix}"choices":${choice}${usage}}\n\n`;
  }
}

export function openAiError(kind: SimErrorKind, message?: string, param?: string): ErrorReply {
  switch (kind) {
    case 'rate_limit':
      return {
        status: 429,
        headers: { 'retry-after': '1', 'x-ratelimit-remaining-requests': '0' },
        body: {
          error: {
            message:
              message ?? 'Rate limit reached for requests (simulated). Please try again in 1s.',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
      };
    case 'server':
      return {
        status: 500,
        headers: {},
        body: {
          error: {
            message:
              message ?? 'The server had an error while processing your request (simulated).',
            type: 'server_error',
            param: null,
            code: 'internal_error',
          },
        },
      };
    case 'bad_request':
      return {
        status: 400,
        headers: {},
        body: {
          error: {
            message: message ?? 'Bad request.',
            type: 'invalid_request_error',
            param: param ?? null,
            code: null,
          },
        },
      };
    case 'unauthorized':
      return {
        status: 401,
        headers: {},
        body: {
          error: {
            message: message ?? "You didn't provide an API key (Authorization: Bearer <key>).",
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        },
      };
    case 'not_found':
      return {
        status: 404,
        headers: {},
        body: {
          error: {
            message: message ?? 'Not found.',
            type: 'invalid_request_error',
            param: param ?? null,
            code: 'not_found',
          },
        },
      };
  }
}

/** `POST /v1/embeddings`. */
export function openAiEmbeddings(body: unknown, model?: string): unknown {
  if (!isRecord(body)) throw new BadRequest('Request body must be a JSON object.');
  const resolvedModel = model ?? (typeof body.model === 'string' ? body.model : undefined);
  if (resolvedModel === undefined) throw new BadRequest('you must provide a model parameter');
  const texts = embeddingInputs(body.input);
  const dimensions = intOrUndefined(body.dimensions) ?? DEFAULT_EMBEDDING_DIMENSIONS;
  if (dimensions < 1) throw new BadRequest("'dimensions' must be at least 1.");
  const base64 = body.encoding_format === 'base64';
  const tokens = embeddingTokens(texts);
  return {
    object: 'list',
    data: texts.map((text, index) => {
      const vector = embedText(text, dimensions);
      return {
        object: 'embedding',
        index,
        embedding: base64 ? toBase64(vector) : Array.from(vector),
      };
    }),
    model: resolvedModel,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

function embeddingInputs(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0) {
    // Token arrays (number[] or number[][]) are embedded by their decimal text.
    if (input.every((x) => typeof x === 'number')) return [input.join(' ')];
    if (input.every((x) => typeof x === 'string')) return input;
    if (input.every((x) => Array.isArray(x))) return (input as unknown[][]).map((t) => t.join(' '));
  }
  throw new BadRequest(
    "'input' must be a string, an array of strings or an array of token arrays.",
  );
}

/** Texts of an embeddings body, for `#sim` directives. */
export function openAiEmbeddingTexts(body: unknown): string[] {
  if (!isRecord(body)) return [];
  try {
    return embeddingInputs(body.input);
  } catch {
    return [];
  }
}

export function openAiModels(): unknown {
  return { object: 'list', data: SIM_OPENAI_MODELS.map(openAiModel) };
}

export function openAiModel(id: string): unknown {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'switchboard-simulator' };
}
