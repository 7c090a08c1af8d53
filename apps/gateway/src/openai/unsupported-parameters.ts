import { AppError } from '@switchboard/common';

/**
 * OpenAI parameters the gateway does not implement, per route. A value that
 * asks for the feature (not null, not false, not the neutral default) answers
 * 400 `unsupported_parameter` naming the parameter, so a client never gets an
 * answer that silently ignored what it asked for.
 */
type Asks = (value: unknown) => boolean;

const present: Asks = (v) => v !== undefined && v !== null && v !== false;
const nonZero: Asks = (v) => typeof v === 'number' && v !== 0;
const nonEmptyObject: Asks = (v) =>
  typeof v === 'object' && v !== null && Object.keys(v).length > 0;

export const CHAT_COMPLETIONS_UNSUPPORTED: Record<string, Asks> = {
  n: (v) => typeof v === 'number' && v !== 1,
  logprobs: present,
  top_logprobs: present,
  logit_bias: nonEmptyObject,
  frequency_penalty: nonZero,
  presence_penalty: nonZero,
  seed: present,
  audio: present,
  modalities: (v) => Array.isArray(v) && v.some((m) => m !== 'text'),
  prediction: present,
  web_search_options: present,
  functions: present,
  function_call: present,
};

/** `include` values the gateway honours: it returns no reasoning items, so nothing to encrypt. */
const RESPONSES_INCLUDABLE = new Set(['reasoning.encrypted_content']);

export const RESPONSES_UNSUPPORTED: Record<string, Asks> = {
  background: present,
  conversation: present,
  prompt: present,
  top_logprobs: present,
  max_tool_calls: present,
  // the gateway answers context_length_exceeded rather than dropping turns
  truncation: (v) => v === 'auto',
  include: (v) => Array.isArray(v) && v.some((x) => !RESPONSES_INCLUDABLE.has(x as string)),
};

/** each rule set as a list, made once: this runs on every chat request */
const ruleLists = new WeakMap<Record<string, Asks>, Array<[string, Asks]>>();

/** Throws `unsupported_parameter` for the first parameter of `body` the route does not implement. */
export function rejectUnsupported(body: unknown, rules: Record<string, Asks>): void {
  if (typeof body !== 'object' || body === null) return;
  const b = body as Record<string, unknown>;
  let list = ruleLists.get(rules);
  if (!list) ruleLists.set(rules, (list = Object.entries(rules)));
  for (const [name, asks] of list)
    if (asks(b[name]))
      throw new AppError('unsupported_parameter', `The parameter "${name}" is not supported.`, {
        param: name,
      });
}

/** Responses tools other than functions (hosted web search, file search...) are refused by name. */
export function rejectHostedResponsesTools(body: unknown): void {
  const tools = (body as { tools?: unknown } | null)?.tools;
  if (!Array.isArray(tools)) return;
  tools.forEach((t: unknown, i) => {
    const type = (t as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && type !== 'function')
      throw new AppError('unsupported_parameter', `The tool type "${type}" is not supported.`, {
        param: `tools.${i}.type`,
      });
  });
}
