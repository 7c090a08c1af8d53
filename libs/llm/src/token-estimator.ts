import type { ChatMessage, ToolDefinition } from './chat.types';

type CountFn = (text: string) => number;
let counter: CountFn | undefined;

function count(): CountFn {
  // Loaded on first use (about 200 ms), so boot-to-ready does not pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  counter ??= (require('gpt-tokenizer') as { countTokens: CountFn }).countTokens;
  return counter;
}

/** Loads the tokenizer now (call after the server is ready). */
export function warmTokenizer(): void {
  count()('warm up');
}

/** Up to this many characters are tokenised exactly; beyond, the rest is extrapolated. */
const EXACT_CHARS = 64 * 1024;
/** BPE cost grows with the square of a whitespace-free run, so text is fed in slices. */
const SLICE = 1000;
const IMAGE_TOKENS = 765; // OpenAI's cost of a 1024x1024 high-detail image
const PER_MESSAGE = 4; // role and delimiters

/**
 * Token count with the o200k tokenizer (exact for OpenAI-family models, within a
 * few percent for others). Past 64 KiB it counts the first 64 KiB exactly and
 * extrapolates by characters, which keeps a 1 MiB prompt under ~50 ms of CPU.
 */
export function estimateTextTokens(text: string): number {
  if (text.length === 0) return 0;
  const c = count();
  const exactPart = text.length > EXACT_CHARS ? text.slice(0, EXACT_CHARS) : text;
  let n = 0;
  for (let i = 0; i < exactPart.length; i += SLICE) n += c(exactPart.slice(i, i + SLICE));
  if (exactPart.length === text.length) return n;
  return Math.ceil((n * text.length) / exactPart.length);
}

/**
 * Counts per message object and per tools array. A request's messages pass
 * through several stages (context, assistant choice, hold, each model call) that
 * all count them; messages are values that are never changed in place (a stage
 * that changes one makes a new object), so each is tokenised once per request.
 */
const messageCounts = new WeakMap<ChatMessage, number>();
const toolCounts = new WeakMap<ToolDefinition[], number>();

/**
 * Message texts one caller sent recently, by content, across requests: a chat resends
 * its system prompt and its whole history with every turn, and only the new text needs
 * the tokenizer. Kept per caller (`partition`): a shared cache would let a caller time
 * its own requests to learn whether someone else sent a given text. First in, first
 * out, bounded by the characters and the texts it keeps.
 */
export class RecentTextCounts {
  readonly #counts = new Map<string, number>();
  #chars = 0;

  constructor(
    private readonly maxChars: number,
    private readonly maxEntryChars: number,
    private readonly maxEntries = Infinity,
  ) {}

  count(partition: string, text: string): number {
    if (text.length > this.maxEntryChars) return estimateTextTokens(text);
    const key = `${partition}\u0000${text}`;
    let n = this.#counts.get(key);
    if (n !== undefined) return n;
    n = estimateTextTokens(text);
    this.#counts.set(key, n);
    this.#chars += key.length;
    for (const old of this.#counts.keys()) {
      if (this.#chars <= this.maxChars && this.#counts.size <= this.maxEntries) break;
      this.#counts.delete(old);
      this.#chars -= old.length;
    }
    return n;
  }

  get size(): number {
    return this.#counts.size;
  }
}

/** up to 4 Mi characters in 20,000 recent texts; a text over 64 KiB is counted afresh each time */
const recentTexts = new RecentTextCounts(4 * 1024 * 1024, EXACT_CHARS, 20_000);

function messageTokens(
  m: ChatMessage,
  countText: (text: string) => number = estimateTextTokens,
): number {
  let n = messageCounts.get(m);
  if (n !== undefined) return n;
  n = PER_MESSAGE;
  if (typeof m.content === 'string') n += countText(m.content);
  else for (const p of m.content) n += p.type === 'text' ? countText(p.text) : IMAGE_TOKENS;
  for (const call of m.toolCalls ?? [])
    n += estimateTextTokens(call.name) + estimateTextTokens(call.arguments);
  messageCounts.set(m, n);
  return n;
}

/**
 * Counts a request's messages as they came from `caller` (a user id), using that
 * caller's recent texts; the stages that count them later get these counts.
 */
export function countCallerMessages(caller: string, messages: readonly ChatMessage[]): void {
  const countText = (text: string) => recentTexts.count(caller, text);
  for (const m of messages) messageTokens(m, countText);
}

export function estimatePromptTokens(messages: ChatMessage[], tools?: ToolDefinition[]): number {
  let n = 3; // reply priming
  for (const m of messages) n += messageTokens(m);
  if (tools?.length) {
    let t = toolCounts.get(tools);
    if (t === undefined) {
      t = estimateTextTokens(JSON.stringify(tools));
      toolCounts.set(tools, t);
    }
    n += t;
  }
  return n;
}
