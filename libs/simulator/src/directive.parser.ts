/**
 * The `#sim` directive: one line in the last user message that scripts how the
 * simulated model behaves, e.g.
 *
 *   #sim ttft=200 tokens=50 tps=20 fail=500 after=5
 *
 * Parsing is tolerant on purpose: unknown keys are ignored and a bad value falls
 * back to its default, so a typo never turns into a simulator error.
 */

export type SimFailure = 429 | 500 | 'hang' | 'drop';

export interface SimDirective {
  /** Delay before the first token, in ms. */
  ttftMs: number;
  /** Output tokens of a text answer. */
  tokens: number;
  /** Tokens per second after the first; 0 = no pacing (everything at once). */
  tps: number;
  fail?: SimFailure;
  /** With `fail`: tokens sent before the failure strikes mid-stream. */
  after?: number;
  /** With `fail`: fail only requests for this upstream model (scripts fallbacks). */
  failModel?: string;
  /** Answer with a call to this tool instead of text. */
  tool?: string;
  /** Compact JSON arguments of the tool call. */
  args: string;
  /** Call the tool again even when the last message is already its result. */
  loop: boolean;
  /** Cached input tokens reported in usage. */
  cached: number;
  /** Reasoning tokens reported in usage. */
  reasoning: number;
  /** Word repeated instead of the default word list. */
  text?: string;
  /** Answer with the concatenated prompt text. */
  echo: boolean;
  /** Files the code-interpreter run writes to /mnt/data (Responses API with the tool offered). */
  files: string[];
  /** Size of each produced file in bytes; unset = a small default content per file type. */
  fileBytes?: number;
  /** Whether the model runs code when the code_interpreter tool is offered. */
  code: boolean;
  /** `tokens`, `text` or `echo` scripted the answer's text: it wins over a requested JSON format. */
  scriptedText: boolean;
}

export const DEFAULT_TOKENS = 12;

export function defaultDirective(): SimDirective {
  return {
    ttftMs: 0,
    tokens: DEFAULT_TOKENS,
    tps: 0,
    args: '{}',
    loop: false,
    cached: 0,
    reasoning: 0,
    echo: false,
    files: [],
    code: true,
    scriptedText: false,
  };
}

const MAX_TOKENS = 1_000_000;
const MAX_DELAY_MS = 24 * 60 * 60 * 1000;
const TOOL_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** A file name inside /mnt/data: no separators, and not `.` or `..`. */
const FILE_NAME = /^(?!\.+$)[A-Za-z0-9_.-]{1,100}$/;
export const MAX_SIM_FILES = 10;
export const MAX_SIM_FILE_BYTES = 64 * 1024 * 1024;

/** Parses the last `#sim` line of `text`; returns defaults when there is none. */
export function parseDirective(text: string): SimDirective {
  const directive = defaultDirective();
  const line = lastDirectiveLine(text);
  if (line === undefined) return directive;
  for (const [key, value] of pairs(line)) applyPair(directive, key, value);
  return directive;
}

function lastDirectiveLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const trimmed = lines[i].trim();
    if (/^#sim(\s|$)/.test(trimmed)) return trimmed.slice(4);
  }
  return undefined;
}

/** Splits `k=v k2=v2` into pairs; a value starting with `{` or `[` runs to its balanced end, spaces in strings included. */
function* pairs(line: string): Generator<[string, string]> {
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    const keyStart = i;
    while (i < line.length && line[i] !== '=' && !/\s/.test(line[i])) i++;
    const key = line.slice(keyStart, i).toLowerCase();
    if (line[i] !== '=') continue;
    i++;
    const valueStart = i;
    i = line[i] === '{' || line[i] === '[' ? balancedEnd(line, i) : wordEnd(line, i);
    if (key !== '') yield [key, line.slice(valueStart, i)];
  }
}

function wordEnd(line: string, i: number): number {
  while (i < line.length && !/\s/.test(line[i])) i++;
  return i;
}

function balancedEnd(line: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (/\s/.test(c) && depth === 0) return i;
  }
  // Unbalanced: fall back to the whitespace-delimited word.
  return wordEnd(line, start);
}

function applyPair(d: SimDirective, key: string, value: string): void {
  switch (key) {
    case 'ttft':
      d.ttftMs = number(value, 0, MAX_DELAY_MS) ?? d.ttftMs;
      break;
    case 'tokens': {
      const n = integer(value, 0, MAX_TOKENS);
      if (n !== undefined) [d.tokens, d.scriptedText] = [n, true];
      break;
    }
    case 'tps':
      d.tps = number(value, 0, 1_000_000) ?? d.tps;
      break;
    case 'fail':
      d.fail = failure(value) ?? d.fail;
      break;
    case 'after':
      d.after = integer(value, 0, MAX_TOKENS) ?? d.after;
      break;
    case 'failmodel':
      if (/^[A-Za-z0-9_.:/-]{1,200}$/.test(value)) d.failModel = value;
      break;
    case 'tool':
      if (TOOL_NAME.test(value)) d.tool = value;
      break;
    case 'args':
      d.args = compactJson(value) ?? d.args;
      break;
    case 'loop':
      d.loop = flag(value) ?? d.loop;
      break;
    case 'cached':
      d.cached = integer(value, 0, MAX_TOKENS * 100) ?? d.cached;
      break;
    case 'reasoning':
      d.reasoning = integer(value, 0, MAX_TOKENS * 100) ?? d.reasoning;
      break;
    case 'text':
      if (value !== '') [d.text, d.scriptedText] = [value, true];
      break;
    case 'echo': {
      const f = flag(value);
      if (f !== undefined) [d.echo, d.scriptedText] = [f, true];
      break;
    }
    case 'files':
      d.files = fileNames(value);
      break;
    case 'filebytes':
      d.fileBytes = integer(value, 0, MAX_SIM_FILE_BYTES) ?? d.fileBytes;
      break;
    case 'code':
      d.code = flag(value) ?? d.code;
      break;
    default:
      break;
  }
}

function number(value: string, min: number, max: number): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

function integer(value: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

function failure(value: string): SimFailure | undefined {
  switch (value.toLowerCase()) {
    case '429':
      return 429;
    case '500':
      return 500;
    case 'hang':
      return 'hang';
    case 'drop':
      return 'drop';
    default:
      return undefined;
  }
}

function flag(value: string): boolean | undefined {
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return undefined;
}

/** Valid, distinct names in their order, at most MAX_SIM_FILES; invalid names are skipped. */
function fileNames(value: string): string[] {
  const names = new Set<string>();
  for (const name of value.split(',')) {
    if (names.size === MAX_SIM_FILES) break;
    if (FILE_NAME.test(name)) names.add(name);
  }
  return [...names];
}

function compactJson(value: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? JSON.stringify(parsed)
      : undefined;
  } catch {
    return undefined;
  }
}
