import { responsesShape } from './structured-output';
import { runCode, type CodeInput, type CodeRun } from './code-interpreter.run';
import type { ContainerStore, SimContainer } from './container.store';
import type { ChatDialect, StreamEncoder } from './dialect';
import { openAiError } from './openai.protocol';
import { joinPieces, type SimChatRequest, type SimMessage, type SimReply } from './reply.planner';
import type { UserFileStore } from './user-file.store';
import { BadRequest, intOrUndefined, isRecord, joinSegments, str } from './wire.util';

/**
 * OpenAI Responses API (`POST /v1/responses`), streamed and not, with function
 * tools and the hosted code_interpreter tool. Azure OpenAI serves the same bodies.
 * https://platform.openai.com/docs/api-reference/responses-streaming
 */

export interface ResponsesCall {
  request: SimChatRequest;
  stream: boolean;
  /** Present when the tools offer code_interpreter. */
  codeInterpreter?: {
    /** The named container; undefined = `{type:'auto'}`, a new container per run. */
    containerId?: string;
    /** `{type:'auto', file_ids}`: uploaded files the new container starts with. */
    fileIds: string[];
    /** Where `fileIds` came from, for error messages (`tools[i].container.file_ids`). */
    fileIdsParam: string;
  };
  /** Request parameters a response object repeats. */
  echo: ResponseEcho;
}

interface ResponseEcho {
  instructions: string | null;
  tools: unknown[];
  tool_choice: unknown;
  max_output_tokens: number | null;
  temperature: number;
  top_p: number;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  store: boolean;
  metadata: Record<string, unknown>;
}

/** Reads a `responses.create` body. */
export function parseResponsesCreate(body: unknown): ResponsesCall {
  if (!isRecord(body)) throw new BadRequest('Request body must be a JSON object.');
  if (typeof body.model !== 'string' || body.model === '') {
    throw new BadRequest("Missing required parameter: 'model'.");
  }
  const given = body.instructions !== undefined && body.instructions !== null;
  if (given && typeof body.instructions !== 'string') {
    throw new BadRequest("Invalid type for 'instructions': expected a string.");
  }
  const instructions = typeof body.instructions === 'string' ? body.instructions : null;
  const system: SimMessage[] =
    instructions !== null && instructions !== '' ? [{ role: 'system', text: instructions }] : [];
  const messages = system.concat(inputMessages(body.input));
  const tools = parseTools(body.tools);
  const maxOutputTokens = intOrUndefined(body.max_output_tokens);
  return {
    request: {
      model: body.model,
      messages,
      maxTokens: maxOutputTokens,
      ...responsesShape(body),
    },
    stream: body.stream === true,
    codeInterpreter: tools.codeInterpreter,
    echo: {
      instructions,
      tools: tools.raw,
      tool_choice: body.tool_choice ?? 'auto',
      max_output_tokens: maxOutputTokens ?? null,
      temperature: typeof body.temperature === 'number' ? body.temperature : 1,
      top_p: typeof body.top_p === 'number' ? body.top_p : 1,
      parallel_tool_calls: body.parallel_tool_calls !== false,
      previous_response_id:
        typeof body.previous_response_id === 'string' ? body.previous_response_id : null,
      store: body.store !== false,
      metadata: isRecord(body.metadata) ? body.metadata : {},
    },
  };
}

interface Draft {
  role: SimMessage['role'];
  segments: string[];
  toolName?: string;
}

/**
 * Input items as chat messages, so prompt tokens match Chat Completions: a
 * function_call joins the assistant message it follows (like `tool_calls`),
 * a function_call_output is a tool message. Other item types are skipped.
 */
function inputMessages(input: unknown): SimMessage[] {
  if (typeof input === 'string') return [{ role: 'user', text: input }];
  if (!Array.isArray(input)) {
    throw new BadRequest("Missing required parameter: 'input' (a string or an array of items).");
  }
  const drafts: Draft[] = [];
  const toolNames = new Map<string, string>();
  // Whether the previous item left an assistant turn that a function_call extends.
  let assistantOpen = false;
  input.forEach((item: unknown, i) => {
    if (!isRecord(item))
      throw new BadRequest(`Invalid type for 'input[${i}]': expected an object.`);
    const type = item.type ?? 'message';
    switch (type) {
      case 'message': {
        const role = messageRole(item.role, i);
        drafts.push({ role, segments: contentSegments(item.content, i) });
        assistantOpen = role === 'assistant';
        return;
      }
      case 'function_call':
      case 'code_interpreter_call': {
        const segment =
          type === 'function_call' ? `${str(item.name)}${str(item.arguments)}` : str(item.code);
        if (type === 'function_call' && typeof item.call_id === 'string') {
          toolNames.set(item.call_id, str(item.name));
        }
        const last = drafts.at(-1);
        if (assistantOpen && last !== undefined) last.segments.push(segment);
        else drafts.push({ role: 'assistant', segments: [segment] });
        assistantOpen = true;
        return;
      }
      case 'function_call_output': {
        const draft: Draft = { role: 'tool', segments: toolOutputSegments(item.output) };
        const name = typeof item.call_id === 'string' ? toolNames.get(item.call_id) : undefined;
        if (name !== undefined && name !== '') draft.toolName = name;
        drafts.push(draft);
        assistantOpen = false;
        return;
      }
      default:
        // reasoning, item_reference, other hosted tool calls: not prompt text here.
        assistantOpen = false;
    }
  });
  return drafts.map((d) => {
    const message: SimMessage = { role: d.role, text: joinSegments(d.segments) };
    if (d.toolName !== undefined) message.toolName = d.toolName;
    return message;
  });
}

function messageRole(role: unknown, i: number): SimMessage['role'] {
  switch (role) {
    case 'user':
    case 'assistant':
    case 'system':
      return role;
    case 'developer':
      return 'system';
    default:
      throw new BadRequest(
        `Invalid value for 'input[${i}].role': expected one of 'user', 'assistant', 'system', 'developer'.`,
      );
  }
}

function contentSegments(content: unknown, i: number): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) {
    throw new BadRequest(`Invalid type for 'input[${i}].content': expected a string or an array.`);
  }
  const segments: string[] = [];
  for (const part of content) {
    if (!isRecord(part)) continue;
    if (typeof part.text === 'string') segments.push(part.text);
    else if (typeof part.refusal === 'string') segments.push(part.refusal);
  }
  return segments;
}

function toolOutputSegments(output: unknown): string[] {
  if (typeof output === 'string') return [output];
  if (!Array.isArray(output)) return [];
  return output.flatMap((part: unknown) =>
    isRecord(part) && typeof part.text === 'string' ? [part.text] : [],
  );
}

function parseTools(tools: unknown): {
  raw: unknown[];
  codeInterpreter?: ResponsesCall['codeInterpreter'];
} {
  if (tools === undefined || tools === null) return { raw: [] };
  if (!Array.isArray(tools)) throw new BadRequest("Invalid type for 'tools': expected an array.");
  let codeInterpreter: ResponsesCall['codeInterpreter'];
  tools.forEach((tool: unknown, i) => {
    if (!isRecord(tool) || typeof tool.type !== 'string') {
      throw new BadRequest(`Missing required parameter: 'tools[${i}].type'.`);
    }
    if (tool.type === 'function' && (typeof tool.name !== 'string' || tool.name === '')) {
      throw new BadRequest(`Missing required parameter: 'tools[${i}].name'.`);
    }
    if (tool.type !== 'code_interpreter') return;
    const container = tool.container;
    const fileIdsParam = `tools[${i}].container.file_ids`;
    if (typeof container === 'string' && container !== '') {
      codeInterpreter ??= { containerId: container, fileIds: [], fileIdsParam };
      return;
    }
    if (!isRecord(container) || container.type !== 'auto') {
      throw new BadRequest(
        `Missing required parameter: 'tools[${i}].container' (a container id or {"type": "auto"}).`,
      );
    }
    const fileIds = container.file_ids ?? [];
    if (!Array.isArray(fileIds) || !fileIds.every((id) => typeof id === 'string')) {
      throw new BadRequest(
        `Invalid type for '${fileIdsParam}': expected an array of file ids.`,
        fileIdsParam,
      );
    }
    codeInterpreter ??= { fileIds: [...new Set(fileIds)], fileIdsParam };
  });
  return { raw: tools, codeInterpreter };
}

/**
 * The Responses dialect for one call. A named container and every uploaded
 * file in `file_ids` must exist now, before anything is sent; the code runs
 * (container, files) when the reply is first encoded, so a request failed up
 * front by `fail=` leaves nothing behind. The uploads are taken as they are
 * now: deleting one while the answer waits for `ttft` does not change the run.
 */
export function responsesDialect(
  call: ResponsesCall,
  containers: ContainerStore,
  uploads: UserFileStore,
): ChatDialect {
  let container: SimContainer | undefined;
  const named = call.codeInterpreter?.containerId;
  if (named !== undefined) {
    container = containers.get(named);
    if (container === undefined) {
      throw new BadRequest(`Container with id '${named}' not found. It may have expired.`);
    }
  }
  const inputs = inputFiles(call, uploads);
  const requestId = `req_sim${randomId()}`;
  const shape = (reply: SimReply): ResponseShape =>
    new ResponseShape(call, reply, () =>
      call.codeInterpreter !== undefined && reply.directive.code
        ? runCode(containers, container, reply.directive, inputs)
        : undefined,
    );
  return {
    streamHeaders: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': requestId,
    },
    responseHeaders: { 'x-request-id': requestId },
    encoder: (reply) => new ResponsesEncoder(shape(reply)),
    body: (reply) => shape(reply).response(true),
    error: openAiError,
  };
}

function inputFiles(call: ResponsesCall, uploads: UserFileStore): CodeInput[] {
  const tool = call.codeInterpreter;
  if (tool === undefined) return [];
  return tool.fileIds.map((id) => {
    const file = uploads.get(id);
    if (file === undefined) {
      throw new BadRequest(`File with id '${id}' not found.`, tool.fileIdsParam);
    }
    return { filename: file.filename, content: file.content };
  });
}

export function responsesUsage(reply: SimReply): Record<string, unknown> {
  const u = reply.usage;
  const output = u.outputTokens + u.reasoningTokens;
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens, cache_write_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + output,
  };
}

function randomId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

type Status = 'in_progress' | 'completed' | 'incomplete';

/** The response object and its output items for one reply; the code runs on first use. */
class ResponseShape {
  readonly id = `resp_sim${randomId()}`;
  readonly createdAt = Math.floor(Date.now() / 1000);
  readonly itemId: string;
  readonly codeItemId = `ci_sim${randomId()}`;
  private ran = false;
  private codeRun: CodeRun | undefined;
  private text: string | undefined;

  constructor(
    private readonly call: ResponsesCall,
    readonly reply: SimReply,
    private readonly execute: () => CodeRun | undefined,
  ) {
    this.itemId = reply.toolCall === undefined ? `msg_sim${randomId()}` : `fc_sim${randomId()}`;
  }

  get run(): CodeRun | undefined {
    if (!this.ran) {
      this.ran = true;
      this.codeRun = this.execute();
    }
    return this.codeRun;
  }

  /** Index of the message or function call in `output`. */
  get mainIndex(): number {
    return this.run === undefined ? 0 : 1;
  }

  get finalText(): string {
    this.text ??= joinPieces(this.reply.pieces);
    return this.text;
  }

  get finalStatus(): Exclude<Status, 'in_progress'> {
    return this.reply.finish === 'length' ? 'incomplete' : 'completed';
  }

  /** The whole response; `done` = final (completed or incomplete) with output and usage. */
  response(done: boolean): Record<string, unknown> {
    const status = done ? this.finalStatus : 'in_progress';
    const e = this.call.echo;
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status,
      background: false,
      completed_at: status === 'completed' ? Math.floor(Date.now() / 1000) : null,
      error: null,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: e.instructions,
      max_output_tokens: e.max_output_tokens,
      max_tool_calls: null,
      model: this.call.request.model,
      output: done ? this.output() : [],
      parallel_tool_calls: e.parallel_tool_calls,
      previous_response_id: e.previous_response_id,
      reasoning: { effort: null, summary: null },
      service_tier: 'default',
      store: e.store,
      temperature: e.temperature,
      text: { format: { type: 'text' }, verbosity: 'medium' },
      tool_choice: e.tool_choice,
      tools: e.tools,
      top_logprobs: 0,
      top_p: e.top_p,
      truncation: 'disabled',
      usage: done ? responsesUsage(this.reply) : null,
      user: null,
      metadata: e.metadata,
    };
  }

  output(): unknown[] {
    const items: unknown[] = [];
    if (this.run !== undefined) items.push(this.codeItem(true));
    items.push(
      this.reply.toolCall === undefined ? this.messageItem(true) : this.functionItem(true),
    );
    return items;
  }

  codeItem(done: boolean): Record<string, unknown> {
    const run = this.run;
    return {
      id: this.codeItemId,
      type: 'code_interpreter_call',
      status: done ? 'completed' : 'in_progress',
      code: done ? (run?.code ?? '') : '',
      container_id: run?.containerId ?? '',
      outputs: done ? [{ type: 'logs', logs: run?.logs ?? '' }] : null,
    };
  }

  messageItem(done: boolean): Record<string, unknown> {
    return {
      id: this.itemId,
      type: 'message',
      status: done ? this.finalStatus : 'in_progress',
      role: 'assistant',
      content: done ? [this.textPart(true)] : [],
    };
  }

  textPart(done: boolean): Record<string, unknown> {
    return {
      type: 'output_text',
      annotations: done ? this.annotations() : [],
      logprobs: [],
      text: done ? this.finalText : '',
    };
  }

  /** One citation per produced file, anchored at the end of the text. */
  annotations(): Record<string, unknown>[] {
    const end = this.finalText.length;
    return (this.run?.files ?? []).map((f) => ({
      type: 'container_file_citation',
      container_id: f.containerId,
      file_id: f.id,
      filename: f.name,
      start_index: end,
      end_index: end,
    }));
  }

  functionItem(done: boolean): Record<string, unknown> {
    const call = this.reply.toolCall;
    return {
      id: this.itemId,
      type: 'function_call',
      status: done ? 'completed' : 'in_progress',
      arguments: done ? (call?.arguments ?? '') : '',
      call_id: call?.id ?? '',
      name: call?.name ?? '',
    };
  }
}

/**
 * Server-sent events with `event:` lines and increasing `sequence_number`. The
 * code call and the item/part openings go with the first piece (after ttft);
 * each piece is one text or arguments delta.
 */
class ResponsesEncoder implements StreamEncoder {
  private seq = 0;
  private deltaType = '';
  private deltaItem = '';
  private deltaEnd = '';

  constructor(private readonly shape: ResponseShape) {}

  open(): string {
    const s = this.shape;
    let out =
      this.event('response.created', { response: s.response(false) }) +
      this.event('response.in_progress', { response: s.response(false) });
    const run = s.run;
    if (run !== undefined) out += this.codeEvents(run);
    const item = s.reply.toolCall === undefined ? s.messageItem(false) : s.functionItem(false);
    out += this.event('response.output_item.added', { output_index: s.mainIndex, item });
    if (s.reply.toolCall === undefined) {
      out += this.event('response.content_part.added', {
        item_id: s.itemId,
        output_index: s.mainIndex,
        content_index: 0,
        part: s.textPart(false),
      });
    }
    // Deltas are the hot path: everything but sequence_number and the text is fixed.
    const text = s.reply.toolCall === undefined;
    this.deltaType = text ? 'response.output_text.delta' : 'response.function_call_arguments.delta';
    this.deltaItem =
      `"item_id":${JSON.stringify(s.itemId)},"output_index":${s.mainIndex},` +
      (text ? '"content_index":0,"delta":' : '"delta":');
    this.deltaEnd = text ? ',"logprobs":[]}' : '}';
    return out;
  }

  piece(index: number): string {
    const t = this.deltaType;
    const delta = JSON.stringify(this.shape.reply.pieces.at(index));
    return (
      `event: ${t}\ndata: {"type":"${t}","sequence_number":${this.seq++},` +
      `${this.deltaItem}${delta}${this.deltaEnd}\n\n`
    );
  }

  close(): string {
    const s = this.shape;
    const at = { item_id: s.itemId, output_index: s.mainIndex };
    let out = '';
    if (s.reply.toolCall === undefined) {
      s.annotations().forEach((annotation, i) => {
        out += this.event('response.output_text.annotation.added', {
          ...at,
          content_index: 0,
          annotation_index: i,
          annotation,
        });
      });
      out +=
        this.event('response.output_text.done', {
          ...at,
          content_index: 0,
          text: s.finalText,
          logprobs: [],
        }) +
        this.event('response.content_part.done', {
          ...at,
          content_index: 0,
          part: s.textPart(true),
        }) +
        this.event('response.output_item.done', {
          output_index: s.mainIndex,
          item: s.messageItem(true),
        });
    } else {
      out +=
        this.event('response.function_call_arguments.done', {
          ...at,
          arguments: s.reply.toolCall.arguments,
        }) +
        this.event('response.output_item.done', {
          output_index: s.mainIndex,
          item: s.functionItem(true),
        });
    }
    const final = s.finalStatus === 'completed' ? 'response.completed' : 'response.incomplete';
    return out + this.event(final, { response: s.response(true) });
  }

  /** The code_interpreter_call item at output index 0, from added to done. */
  private codeEvents(run: CodeRun): string {
    const s = this.shape;
    const at = { item_id: s.codeItemId, output_index: 0 };
    let out = this.event('response.output_item.added', {
      output_index: 0,
      item: s.codeItem(false),
    });
    out += this.event('response.code_interpreter_call.in_progress', at);
    for (const line of run.code.split(/(?<=\n)/)) {
      out += this.event('response.code_interpreter_call_code.delta', { ...at, delta: line });
    }
    out +=
      this.event('response.code_interpreter_call_code.done', { ...at, code: run.code }) +
      this.event('response.code_interpreter_call.interpreting', at) +
      this.event('response.code_interpreter_call.completed', at) +
      this.event('response.output_item.done', { output_index: 0, item: s.codeItem(true) });
    return out;
  }

  private event(type: string, fields: Record<string, unknown>): string {
    const data = JSON.stringify({ type, sequence_number: this.seq++, ...fields });
    return `event: ${type}\ndata: ${data}\n\n`;
  }
}
