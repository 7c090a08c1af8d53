import { AppError } from '@switchboard/common';
import type { ChatMessage, ContentPart, ResponseFormat, ToolChoice } from '@switchboard/llm';
import type { ResponseItem } from '@switchboard/responses';
import type { ChatParams } from '@switchboard/chat';
import type { InputItem, ResponsesBody } from './responses-request.schema';
import { responsesId, type ResponseObject } from './responses-events.encoder';

/**
 * Responses API requests in terms of the internal chat request: input items
 * become chat messages (function calls and their outputs included), settings
 * become ChatParams, so every provider of the catalogue serves the route.
 */

type Part = { type: string; text?: string; refusal?: string; image_url?: string | null };

function textOnly(text: string, role: string): Part[] {
  return [
    role === 'assistant'
      ? { type: 'output_text', text, annotations: [] }
      : { type: 'input_text', text },
  ] as Part[];
}

/**
 * This request's input as stored items, each with an id: strings become a user
 * message, `item_reference`s are replaced by the referenced items of the
 * caller's stored responses. Content the gateway cannot pass on is refused.
 */
export function normaliseInput(
  input: ResponsesBody['input'],
  references: Map<string, ResponseItem>,
): ResponseItem[] {
  if (typeof input === 'string')
    return [
      {
        id: responsesId('msg'),
        type: 'message',
        role: 'user',
        content: textOnly(input, 'user'),
        status: 'completed',
      },
    ];
  return input.map((item, i): ResponseItem => normaliseItem(item, i, references));
}

function normaliseItem(
  item: InputItem,
  i: number,
  references: Map<string, ResponseItem>,
): ResponseItem {
  switch (item.type) {
    case undefined:
    case 'message': {
      if (typeof item.content !== 'string')
        item.content.forEach((p, j) => {
          if (p.type === 'input_file' || (p.type === 'input_image' && !p.image_url))
            throw new AppError(
              'unsupported_parameter',
              p.type === 'input_file'
                ? 'File inputs are not supported; upload documents with POST /files and use /chat dataSources.'
                : 'Images must be given as image_url (https: or data:image/ URL).',
              { param: `input.${i}.content.${j}` },
            );
        });
      return {
        id: item.id ?? responsesId('msg'),
        type: 'message',
        role: item.role,
        content:
          typeof item.content === 'string' ? textOnly(item.content, item.role) : item.content,
        status: 'completed',
      };
    }
    case 'function_call':
      return {
        id: item.id ?? responsesId('fc'),
        type: 'function_call',
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
        status: 'completed',
      };
    case 'function_call_output':
      return {
        id: item.id ?? responsesId('fco'),
        type: 'function_call_output',
        call_id: item.call_id,
        output: item.output,
        status: 'completed',
      };
    case 'reasoning':
      return { ...item, summary: item.summary ?? [] };
    case 'item_reference': {
      const found = references.get(item.id);
      if (!found)
        throw new AppError('not_found', `No stored item with id "${item.id}".`, {
          param: `input.${i}.id`,
        });
      return found;
    }
  }
}

/** The ids an input refers to with `item_reference`. */
export function referencedIds(input: ResponsesBody['input']): string[] {
  if (typeof input === 'string') return [];
  return input.flatMap((x) => (x.type === 'item_reference' ? [x.id] : []));
}

function partsToContent(content: unknown): string | ContentPart[] {
  if (typeof content === 'string') return content;
  const parts: ContentPart[] = [];
  for (const p of (content as Part[] | undefined) ?? []) {
    if (p.type === 'input_text' || p.type === 'output_text')
      parts.push({ type: 'text', text: p.text ?? '' });
    else if (p.type === 'refusal') parts.push({ type: 'text', text: p.refusal ?? '' });
    else if (p.type === 'input_image' && p.image_url)
      parts.push({ type: 'image', url: p.image_url });
  }
  if (parts.every((p) => p.type === 'text'))
    return parts.map((p) => (p as { text: string }).text).join('');
  return parts;
}

function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  return ((output as Part[] | undefined) ?? []).map((p) => p.text ?? '').join('');
}

/** Items (a stored conversation, then this input) as chat messages. */
export function itemsToMessages(items: ResponseItem[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const item of items) {
    if (item.type === 'message') {
      const role = item.role === 'developer' || item.role === 'system' ? 'system' : item.role;
      messages.push({
        role: role as ChatMessage['role'],
        content: partsToContent(item.content),
      });
    } else if (item.type === 'function_call') {
      const call = {
        id: String(item.call_id),
        name: String(item.name),
        arguments: String(item.arguments),
      };
      // calls of one turn (and the text before them) are one assistant message
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant') last.toolCalls = [...(last.toolCalls ?? []), call];
      else messages.push({ role: 'assistant', content: '', toolCalls: [call] });
    } else if (item.type === 'function_call_output') {
      messages.push({
        role: 'tool',
        content: outputText(item.output),
        toolCallId: String(item.call_id),
      });
    }
    // reasoning items carry nothing a provider here can use
  }
  return messages;
}

export function responsesParams(body: ResponsesBody): ChatParams {
  const f = body.text?.format;
  const responseFormat: ResponseFormat | undefined =
    f === undefined || f.type === 'text'
      ? undefined
      : f.type === 'json_schema'
        ? { type: 'json_schema', name: f.name, schema: f.schema, strict: f.strict ?? undefined }
        : { type: 'json_object' };
  const tc = body.tool_choice;
  const toolChoice: ToolChoice | undefined =
    tc === undefined || typeof tc === 'string' ? tc : { name: tc.name };
  return {
    maxTokens: body.max_output_tokens ?? undefined,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    tools: body.tools?.map((t) => ({
      name: t.name,
      description: t.description ?? undefined,
      parameters: t.parameters ?? undefined,
    })),
    toolChoice,
    responseFormat,
    reasoningEffort: body.reasoning?.effort ?? undefined,
    user: body.user ?? body.safety_identifier,
  };
}

/** The response object's fields that echo the request (OpenAI's defaults where unset). */
export function responseBase(body: ResponsesBody, id: string, createdAt: Date): ResponseObject {
  return {
    id,
    object: 'response',
    created_at: Math.floor(createdAt.getTime() / 1000),
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model: body.model,
    output: [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: {
      format: body.text?.format ?? { type: 'text' },
      verbosity: body.text?.verbosity ?? 'medium',
    },
    tool_choice: body.tool_choice ?? 'auto',
    tools: (body.tools ?? []).map((t) => ({
      type: 'function',
      name: t.name,
      description: t.description ?? null,
      parameters: t.parameters ?? null,
      strict: t.strict ?? true,
    })),
    top_logprobs: 0,
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? 'disabled',
    usage: null,
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}
