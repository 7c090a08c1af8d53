import { converseShape } from './structured-output';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ChatDialect, ErrorReply, SimErrorKind, StreamEncoder } from './dialect';
import { embedText, embeddingTokens } from './embedding';
import { joinPieces, type SimChatRequest, type SimMessage, type SimReply } from './reply.planner';
import { BadRequest, intOrUndefined, isRecord, joinSegments, str } from './wire.util';

/**
 * Amazon Bedrock Runtime: Converse, ConverseStream (AWS event-stream framing)
 * and InvokeModel for Titan / Cohere embeddings.
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 *
 * Usage mirrors the real API: `inputTokens` excludes cache reads, which are
 * reported in `cacheReadInputTokens`; `totalTokens` is the sum of all of them.
 */

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export function parseConverse(body: unknown, modelId: string): SimChatRequest {
  if (!isRecord(body)) throw new BadRequest('Request body must be a JSON object.');
  if (!Array.isArray(body.messages)) throw new BadRequest('messages: must not be null');
  const messages: SimMessage[] = [];
  const system = Array.isArray(body.system) ? blocksText(body.system) : '';
  if (system !== '') messages.push({ role: 'system', text: system });

  const toolNames = new Map<string, string>();
  for (const raw of body.messages) {
    if (
      !isRecord(raw) ||
      (raw.role !== 'user' && raw.role !== 'assistant') ||
      !Array.isArray(raw.content)
    ) {
      throw new BadRequest(
        'messages: each message needs a role of user or assistant and a content array',
      );
    }
    const blocks = raw.content.filter(isRecord);
    for (const b of blocks) {
      if (isRecord(b.toolUse)) toolNames.set(str(b.toolUse.toolUseId), str(b.toolUse.name));
    }
    const results = blocks.filter((b) => isRecord(b.toolResult));
    const hasText = blocks.some((b) => typeof b.text === 'string' && b.text !== '');
    // Tool results travel in user messages; a message carrying only results is the tool's turn.
    if (raw.role === 'user' && results.length > 0 && !hasText) {
      const first = results[0].toolResult as Record<string, unknown>;
      messages.push({
        role: 'tool',
        text: blocksText(blocks),
        toolName: toolNames.get(str(first.toolUseId)),
      });
    } else {
      messages.push({ role: raw.role, text: blocksText(blocks) });
    }
  }
  const inference = isRecord(body.inferenceConfig) ? body.inferenceConfig : {};
  return {
    model: modelId,
    messages,
    maxTokens: intOrUndefined(inference.maxTokens),
    ...converseShape(body),
  };
}

/** Text of content blocks: text, tool-use name + input JSON, tool-result content. */
function blocksText(blocks: readonly unknown[]): string {
  const segments: string[] = [];
  for (const b of blocks) {
    if (!isRecord(b)) continue;
    if (typeof b.text === 'string') segments.push(b.text);
    else if (isRecord(b.toolUse)) {
      segments.push(`${str(b.toolUse.name)}${JSON.stringify(b.toolUse.input ?? {})}`);
    } else if (isRecord(b.toolResult) && Array.isArray(b.toolResult.content)) {
      for (const c of b.toolResult.content) {
        if (!isRecord(c)) continue;
        if (typeof c.text === 'string') segments.push(c.text);
        else if (c.json !== undefined) segments.push(JSON.stringify(c.json));
      }
    }
  }
  return joinSegments(segments);
}

function stopReason(reply: SimReply): string {
  switch (reply.finish) {
    case 'stop':
      return 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
  }
}

export function bedrockUsage(reply: SimReply): Record<string, number> {
  const u = reply.usage;
  const inputTokens = u.inputTokens - u.cachedTokens;
  const outputTokens = u.outputTokens + u.reasoningTokens;
  return {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens + u.cachedTokens,
    cacheReadInputTokens: u.cachedTokens,
    cacheWriteInputTokens: 0,
  };
}

function requestId(): string {
  return crypto.randomUUID();
}

export function bedrockDialect(): ChatDialect {
  const id = requestId();
  return {
    streamHeaders: { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': id },
    responseHeaders: { 'x-amzn-requestid': id },
    encoder: (reply) => new BedrockEncoder(reply),
    body: (reply, latencyMs) => {
      const call = reply.toolCall;
      const content =
        call === undefined
          ? [{ text: joinPieces(reply.pieces) }]
          : [
              {
                toolUse: {
                  toolUseId: call.id,
                  name: call.name,
                  input: JSON.parse(call.arguments) as unknown,
                },
              },
            ];
      return {
        output: { message: { role: 'assistant', content } },
        stopReason: stopReason(reply),
        usage: bedrockUsage(reply),
        metrics: { latencyMs },
      };
    },
    error: bedrockError,
  };
}

class BedrockEncoder implements StreamEncoder {
  private readonly started = performance.now();

  constructor(private readonly reply: SimReply) {}

  open(): Uint8Array {
    const start = event('messageStart', { role: 'assistant' });
    const call = this.reply.toolCall;
    if (call === undefined) return start;
    return Buffer.concat([
      start,
      event('contentBlockStart', {
        contentBlockIndex: 0,
        start: { toolUse: { toolUseId: call.id, name: call.name } },
      }),
    ]);
  }

  piece(index: number): Uint8Array {
    const text = this.reply.pieces.at(index);
    const delta = this.reply.toolCall === undefined ? { text } : { toolUse: { input: text } };
    return event('contentBlockDelta', { contentBlockIndex: 0, delta });
  }

  close(): Uint8Array {
    return Buffer.concat([
      event('contentBlockStop', { contentBlockIndex: 0 }),
      event('messageStop', { stopReason: stopReason(this.reply) }),
      event('metadata', {
        usage: bedrockUsage(this.reply),
        metrics: { latencyMs: Math.round(performance.now() - this.started) },
      }),
    ]);
  }
}

function event(type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** The SDK names the error after `x-amzn-ErrorType` (text before the colon). */
export function bedrockError(kind: SimErrorKind, message?: string): ErrorReply {
  const [status, type, fallback] = ((): [number, string, string] => {
    switch (kind) {
      case 'rate_limit':
        return [429, 'ThrottlingException', 'Too many requests, please wait before trying again.'];
      case 'server':
        return [
          500,
          'InternalServerException',
          'The server encountered an internal error (simulated).',
        ];
      case 'bad_request':
        return [400, 'ValidationException', 'Malformed input request.'];
      case 'unauthorized':
        return [403, 'AccessDeniedException', 'You do not have access to this model.'];
      case 'not_found':
        return [404, 'ResourceNotFoundException', 'The requested resource was not found.'];
    }
  })();
  const headers: Record<string, string> = {
    'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': requestId(),
  };
  if (status === 429) headers['retry-after'] = '1';
  return { status, headers, body: { message: message ?? fallback } };
}

/** Texts of an InvokeModel embeddings body (for `#sim` directives and the request log). */
export function invokeTexts(body: unknown): string[] {
  if (!isRecord(body)) return [];
  if (typeof body.inputText === 'string') return [body.inputText];
  if (Array.isArray(body.texts))
    return body.texts.filter((t): t is string => typeof t === 'string');
  return [];
}

/** InvokeModel for embedding models: Cohere Embed (`texts`) or Amazon Titan (`inputText`). */
export function invokeEmbeddings(body: unknown, modelId: string): unknown {
  if (!isRecord(body)) throw new BadRequest('Malformed input request: expected a JSON object.');
  if (Array.isArray(body.texts)) return cohereEmbeddings(body, modelId);
  if (typeof body.inputText === 'string') {
    const dimensions =
      intOrUndefined(body.dimensions) ?? (modelId.includes('titan-embed-text-v1') ? 1536 : 1024);
    const vector = Array.from(embedText(body.inputText, dimensions));
    const out: Record<string, unknown> = {
      embedding: vector,
      inputTextTokenCount: embeddingTokens([body.inputText]),
    };
    if (Array.isArray(body.embeddingTypes)) out.embeddingsByType = { float: vector };
    return out;
  }
  throw new BadRequest(
    'Malformed input request: the simulator invokes embedding models only ({inputText} or {texts}).',
  );
}

function cohereEmbeddings(body: Record<string, unknown>, modelId: string): unknown {
  const texts = (body.texts as unknown[]).map((t) => {
    if (typeof t !== 'string')
      throw new BadRequest('Malformed input request: texts must be strings.');
    return t;
  });
  const dimensions =
    intOrUndefined(body.output_dimension) ?? (modelId.includes('embed-v4') ? 1536 : 1024);
  const vectors = texts.map((t) => Array.from(embedText(t, dimensions)));
  const byType = Array.isArray(body.embedding_types);
  return {
    id: requestId(),
    embeddings: byType ? { float: vectors } : vectors,
    response_type: byType ? 'embeddings_by_type' : 'embeddings_floats',
    texts,
  };
}
