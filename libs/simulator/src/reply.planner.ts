import { parseDirective, type SimDirective } from './directive.parser';
import { generateFromSchema } from './schema-value.generator';

/** A prompt message reduced to what the simulator needs, whatever the protocol. */
export interface SimMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** All text of the message: text parts, tool-call arguments, tool-result content. */
  text: string;
  /** For tool results: the tool's name when the protocol carries it. */
  toolName?: string;
}

/** A function the caller offers, with the JSON Schema of its arguments. */
export interface SimTool {
  name: string;
  parameters?: unknown;
}

export type SimToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** A structured-output request: answer JSON (valid against `schema` when given). */
export type SimOutputFormat = { type: 'json_schema'; schema: unknown } | { type: 'json_object' };

/** A protocol-neutral chat request. */
export interface SimChatRequest {
  model: string;
  messages: SimMessage[];
  /** Output cap requested by the caller (max_tokens, maxTokens, maxOutputTokens). */
  maxTokens?: number;
  tools?: SimTool[];
  toolChoice?: SimToolChoice;
  format?: SimOutputFormat;
}

export interface SimUsage {
  /** All input tokens, cached ones included. */
  inputTokens: number;
  cachedTokens: number;
  /** Visible output tokens (the streamed pieces), reasoning excluded. */
  outputTokens: number;
  reasoningTokens: number;
}

export interface SimToolCall {
  id: string;
  name: string;
  /** Compact JSON. */
  arguments: string;
}

/**
 * The streamed units of a reply, produced on demand: a long answer (tokens=100000)
 * on thousands of streams must not sit in memory as arrays of strings.
 */
export interface SimPieces {
  readonly count: number;
  at(this: void, index: number): string;
}

export const NO_PIECES: SimPieces = { count: 0, at: () => '' };

export function joinPieces(pieces: SimPieces): string {
  let text = '';
  for (let i = 0; i < pieces.count; i++) text += pieces.at(i);
  return text;
}

/** What the simulated model answers, before any protocol encoding. */
export interface SimReply {
  directive: SimDirective;
  /** Text tokens, or fragments of the tool call's JSON arguments. */
  pieces: SimPieces;
  toolCall?: SimToolCall;
  finish: 'stop' | 'length' | 'tool_calls';
  usage: SimUsage;
}

/** Token i of a default answer is WORDS[i % WORDS.length]. */
export const WORDS: readonly string[] = [
  'The',
  'quick',
  'brown',
  'fox',
  'jumps',
  'over',
  'the',
  'lazy',
  'dog',
  'while',
  'the',
  'simulator',
  'streams',
  'deterministic',
  'tokens',
  'to',
  'every',
  'client',
];

const TOOL_RESULT_PREVIEW = 200;
const ARGUMENT_PIECE_CHARS = 4;

/**
 * Prompt tokens, deterministic across protocols:
 * ceil(total characters of all message text / 4) + 4 per message.
 * System instructions count as one message; characters are UTF-16 code units.
 */
export function promptTokens(messages: readonly SimMessage[]): number {
  let chars = 0;
  for (const m of messages) chars += m.text.length;
  return Math.ceil(chars / 4) + 4 * messages.length;
}

/** Splits text into word-sized pieces whose concatenation is exactly the text. */
export function splitPieces(text: string): string[] {
  return text.split(/(?<=\s)(?=\S)/).filter((p) => p !== '');
}

let toolCallSeq = 0;

export function planReply(request: SimChatRequest): SimReply {
  const lastUser = findLast(request.messages, (m) => m.role === 'user');
  const directive = parseDirective(lastUser?.text ?? '');
  if (directive.failModel !== undefined && directive.failModel !== request.model)
    directive.fail = undefined;
  const last = request.messages.at(-1);
  const answeringToolResult = last?.role === 'tool';

  let pieces: SimPieces;
  let toolCall: SimToolCall | undefined;
  let finish: SimReply['finish'] = 'stop';

  // a named tool or tool_choice "required" forces a call, like a real model; a #sim tool wins
  const forced = directive.tool === undefined ? forcedTool(request) : undefined;
  if (directive.tool !== undefined && (!answeringToolResult || directive.loop)) {
    toolCall = { id: nextToolCallId(), name: directive.tool, arguments: directive.args };
    pieces = listPieces(chunk(directive.args, ARGUMENT_PIECE_CHARS));
    finish = 'tool_calls';
  } else if (forced) {
    const args = JSON.stringify(generateFromSchema(forced.parameters ?? { type: 'object' }));
    toolCall = { id: nextToolCallId(), name: forced.name, arguments: args };
    pieces = listPieces(chunk(args, ARGUMENT_PIECE_CHARS));
    finish = 'tool_calls';
  } else {
    if (directive.echo) {
      pieces = listPieces(splitPieces(request.messages.map((m) => m.text).join('\n')));
    } else if (answeringToolResult && directive.tool !== undefined) {
      const name = last.toolName ?? directive.tool;
      pieces = listPieces(
        splitPieces(`Tool ${name} returned: ${last.text.slice(0, TOOL_RESULT_PREVIEW)}`),
      );
    } else if (request.format && !directive.scriptedText) {
      pieces = listPieces(chunk(formattedAnswer(request.format), ARGUMENT_PIECE_CHARS));
    } else {
      pieces = wordPieces(directive.tokens, directive.text);
    }
    const cap = request.maxTokens;
    if (cap !== undefined && cap >= 0 && pieces.count > cap) {
      pieces = { count: cap, at: pieces.at };
      finish = 'length';
    }
  }

  return {
    directive,
    pieces,
    toolCall,
    finish,
    usage: {
      inputTokens: promptTokens(request.messages) + directive.cached,
      cachedTokens: directive.cached,
      outputTokens: pieces.count,
      reasoningTokens: directive.reasoning,
    },
  };
}

function forcedTool(request: SimChatRequest): SimTool | undefined {
  const choice = request.toolChoice;
  const tools = request.tools ?? [];
  if (!tools.length || choice === undefined || choice === 'auto' || choice === 'none')
    return undefined;
  if (choice === 'required') return tools[0];
  return tools.find((t) => t.name === choice.name) ?? { name: choice.name };
}

/** The JSON answer of a structured-output request. */
function formattedAnswer(format: SimOutputFormat): string {
  if (format.type === 'json_schema') return JSON.stringify(generateFromSchema(format.schema));
  let words = '';
  for (let i = 0; i < DEFAULT_ANSWER_WORDS; i++) words += (i ? ' ' : '') + WORDS[i % WORDS.length];
  return JSON.stringify({ answer: words });
}

const DEFAULT_ANSWER_WORDS = 12;

function wordPieces(count: number, word: string | undefined): SimPieces {
  return {
    count,
    at: (i) => {
      const w = word ?? WORDS[i % WORDS.length];
      return i === 0 ? w : ` ${w}`;
    },
  };
}

function listPieces(items: readonly string[]): SimPieces {
  return { count: items.length, at: (i) => items[i] };
}

function chunk(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

function findLast<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i])) return items[i];
  return undefined;
}

function nextToolCallId(): string {
  toolCallSeq = (toolCallSeq + 1) % 1_000_000_000;
  return `call_sim${toolCallSeq.toString(36).padStart(8, '0')}`;
}
