import { geminiShape } from './structured-output';
import type { ChatDialect, ErrorReply, SimErrorKind, StreamEncoder } from './dialect';
import { embedText } from './embedding';
import {
  joinPieces,
  promptTokens,
  type SimChatRequest,
  type SimMessage,
  type SimReply,
} from './reply.planner';
import { BadRequest, intOrUndefined, isRecord, joinSegments, str } from './wire.util';
import { MOUNT_DIR, pythonProgram } from './code-interpreter.run';
import { containerFileContent, fileKind } from './container-file.content';

/**
 * Gemini API (generativelanguage.googleapis.com, as used by `@google/genai`):
 * generateContent, streamGenerateContent?alt=sse, countTokens, embedContent,
 * batchEmbedContents. https://ai.google.dev/api/generate-content
 *
 * Usage mirrors the real API: promptTokenCount includes cachedContentTokenCount,
 * candidatesTokenCount excludes thoughtsTokenCount, and the optional counts are
 * absent when zero.
 */

export function parseGenerateContent(body: unknown, model: string): SimChatRequest {
  if (!isRecord(body)) throw new BadRequest('Invalid JSON payload received.');
  if (!Array.isArray(body.contents) || body.contents.length === 0) {
    throw new BadRequest('* GenerateContentRequest.contents: contents is not specified');
  }
  const messages: SimMessage[] = [];
  const system = systemText(body.systemInstruction ?? body.system_instruction);
  if (system !== '') messages.push({ role: 'system', text: system });
  for (const raw of body.contents) {
    if (!isRecord(raw))
      throw new BadRequest('* GenerateContentRequest.contents: each content must be an object');
    const parts = Array.isArray(raw.parts) ? raw.parts.filter(isRecord) : [];
    const responses = parts.filter((p) => isRecord(p.functionResponse));
    if (responses.length > 0 && !parts.some((p) => typeof p.text === 'string' && p.text !== '')) {
      const first = responses[0].functionResponse as Record<string, unknown>;
      messages.push({
        role: 'tool',
        text: partsText(parts),
        toolName: str(first.name) || undefined,
      });
    } else {
      messages.push({ role: raw.role === 'model' ? 'assistant' : 'user', text: partsText(parts) });
    }
  }
  const config = isRecord(body.generationConfig) ? body.generationConfig : {};
  return {
    model,
    messages,
    maxTokens: intOrUndefined(config.maxOutputTokens),
    ...geminiShape(body),
  };
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (isRecord(system) && Array.isArray(system.parts)) return partsText(system.parts);
  return '';
}

/** Text of parts: text, function-call name + args JSON, function-response JSON. */
function partsText(parts: readonly unknown[]): string {
  const segments: string[] = [];
  for (const p of parts) {
    if (!isRecord(p)) continue;
    if (typeof p.text === 'string') segments.push(p.text);
    else if (isRecord(p.functionCall)) {
      segments.push(`${str(p.functionCall.name)}${JSON.stringify(p.functionCall.args ?? {})}`);
    } else if (isRecord(p.functionResponse)) {
      segments.push(JSON.stringify(p.functionResponse.response ?? {}));
    }
  }
  return joinSegments(segments);
}

/** `:countTokens` with the same deterministic formula as generation. */
export function countTokens(body: unknown, model: string): unknown {
  const request =
    isRecord(body) && isRecord(body.generateContentRequest) ? body.generateContentRequest : body;
  return { totalTokens: promptTokens(parseGenerateContent(request, model).messages) };
}

function finishReason(reply: SimReply): string {
  return reply.finish === 'length' ? 'MAX_TOKENS' : 'STOP';
}

export function geminiUsage(reply: SimReply): Record<string, unknown> {
  const u = reply.usage;
  const usage: Record<string, unknown> = {
    promptTokenCount: u.inputTokens,
    candidatesTokenCount: u.outputTokens,
    totalTokenCount: u.inputTokens + u.outputTokens + u.reasoningTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.inputTokens }],
  };
  if (u.cachedTokens > 0) {
    usage.cachedContentTokenCount = u.cachedTokens;
    usage.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: u.cachedTokens }];
  }
  if (u.reasoningTokens > 0) usage.thoughtsTokenCount = u.reasoningTokens;
  return usage;
}

function responseId(): string {
  return `sim${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

function functionCallPart(reply: SimReply): Record<string, unknown> | undefined {
  const call = reply.toolCall;
  return call === undefined
    ? undefined
    : { functionCall: { name: call.name, args: JSON.parse(call.arguments) as unknown } };
}

/** Whether the request offers Gemini's hosted code execution (`tools: [{codeExecution: {}}]`). */
export function offersCodeExecution(body: unknown): boolean {
  if (!isRecord(body) || !Array.isArray(body.tools)) return false;
  return body.tools.some(
    (t) => isRecord(t) && (isRecord(t.codeExecution) || isRecord(t.code_execution)),
  );
}

/**
 * The parts of a code run, as Gemini sends them before the answer: the program
 * (`executableCode`), its result (`codeExecutionResult`) and every figure it
 * drew (`inlineData`, PNG). Only figures come back: Gemini returns no other
 * files, so `files=` names that are not `.png` are written but not returned.
 * https://ai.google.dev/gemini-api/docs/code-execution
 */
export function codeExecutionParts(reply: SimReply): Array<Record<string, unknown>> {
  const d = reply.directive;
  if (!d.code || reply.toolCall !== undefined) return [];
  const figures = d.files.filter((name) => fileKind(name) === 'png');
  return [
    { executableCode: { language: 'PYTHON', code: pythonProgram(d.files) } },
    {
      codeExecutionResult: {
        outcome: 'OUTCOME_OK',
        output: d.files.map((name) => `saved ${MOUNT_DIR}/${name}\n`).join(''),
      },
    },
    ...figures.map((name) => ({
      inlineData: {
        mimeType: 'image/png',
        data: containerFileContent(name, d.fileBytes).toString('base64'),
      },
    })),
  ];
}

export function geminiDialect(model: string, codeExecution = false): ChatDialect {
  const modelVersion = model.replace(/^models\//, '');
  return {
    streamHeaders: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
    },
    encoder: (reply) => new GeminiEncoder(reply, modelVersion, codeExecution),
    body: (reply) => ({
      candidates: [
        {
          content: {
            parts: [
              ...(codeExecution ? codeExecutionParts(reply) : []),
              functionCallPart(reply) ?? { text: joinPieces(reply.pieces) },
            ],
            role: 'model',
          },
          finishReason: finishReason(reply),
          index: 0,
        },
      ],
      usageMetadata: geminiUsage(reply),
      modelVersion,
      responseId: responseId(),
    }),
    error: geminiError,
  };
}

class GeminiEncoder implements StreamEncoder {
  private readonly suffix: string;

  constructor(
    private readonly reply: SimReply,
    modelVersion: string,
    private readonly codeExecution: boolean,
  ) {
    this.suffix = `"modelVersion":${JSON.stringify(modelVersion)},"responseId":${JSON.stringify(responseId())}}`;
  }

  /** A code run arrives first, one part per chunk. */
  open(): string {
    if (!this.codeExecution) return '';
    return codeExecutionParts(this.reply)
      .map((part) => this.chunk(part))
      .join('');
  }

  /** Gemini never streams function-call arguments: the whole call arrives in one chunk. */
  piece(index: number): string {
    const call = functionCallPart(this.reply);
    if (call !== undefined) return index === 0 ? this.chunk(call) : '';
    return this.chunk({ text: this.reply.pieces.at(index) });
  }

  close(): string {
    const candidate = {
      content: { parts: [{ text: '' }], role: 'model' },
      finishReason: finishReason(this.reply),
      index: 0,
    };
    return (
      `data: {"candidates":[${JSON.stringify(candidate)}],` +
      `"usageMetadata":${JSON.stringify(geminiUsage(this.reply))},${this.suffix}\r\n\r\n`
    );
  }

  private chunk(part: unknown): string {
    return `data: {"candidates":[{"content":{"parts":[${JSON.stringify(part)}],"role":"model"},"index":0}],${this.suffix}\r\n\r\n`;
  }
}

export function geminiError(kind: SimErrorKind, message?: string): ErrorReply {
  const [status, code, fallback] = ((): [number, string, string] => {
    switch (kind) {
      case 'rate_limit':
        return [
          429,
          'RESOURCE_EXHAUSTED',
          'Resource has been exhausted (e.g. check quota). (simulated)',
        ];
      case 'server':
        return [500, 'INTERNAL', 'An internal error has occurred. Please retry. (simulated)'];
      case 'bad_request':
        return [400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.'];
      case 'unauthorized':
        return [
          403,
          'PERMISSION_DENIED',
          "Method doesn't allow unregistered callers. Please use an API key.",
        ];
      case 'not_found':
        return [404, 'NOT_FOUND', 'Requested entity was not found.'];
    }
  })();
  return {
    status,
    headers: status === 429 ? { 'retry-after': '1' } : {},
    body: { error: { code: status, message: message ?? fallback, status: code } },
  };
}

/** Default output size of Gemini embedding models. */
function defaultDimensions(model: string): number {
  return model.includes('gemini-embedding') ? 3072 : 768;
}

function contentText(content: unknown): string {
  if (!isRecord(content) || !Array.isArray(content.parts)) {
    throw new BadRequest('* EmbedContentRequest.content: content is not specified');
  }
  return partsText(content.parts);
}

export function embedContent(body: unknown, model: string): unknown {
  if (!isRecord(body)) throw new BadRequest('Invalid JSON payload received.');
  const dims = intOrUndefined(body.outputDimensionality) ?? defaultDimensions(model);
  return { embedding: { values: Array.from(embedText(contentText(body.content), dims)) } };
}

export function batchEmbedContents(body: unknown, model: string): unknown {
  if (!isRecord(body) || !Array.isArray(body.requests)) {
    throw new BadRequest('* BatchEmbedContentsRequest.requests: requests is not specified');
  }
  return {
    embeddings: body.requests.map((r) => {
      if (!isRecord(r))
        throw new BadRequest(
          '* BatchEmbedContentsRequest.requests: each request must be an object',
        );
      const dims = intOrUndefined(r.outputDimensionality) ?? defaultDimensions(model);
      return { values: Array.from(embedText(contentText(r.content), dims)) };
    }),
  };
}

/** Texts of an embeddings body, for `#sim` directives. */
export function geminiEmbeddingTexts(body: unknown): string[] {
  if (!isRecord(body)) return [];
  const contents = Array.isArray(body.requests)
    ? body.requests.map((r) => (isRecord(r) ? r.content : undefined))
    : [body.content];
  return contents.map((c) => (isRecord(c) && Array.isArray(c.parts) ? partsText(c.parts) : ''));
}
