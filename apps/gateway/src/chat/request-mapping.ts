import type { ChatMessage, ContentPart, ToolChoice, ToolDefinition } from '@switchboard/llm';
import type { z } from 'zod';
import type { ChatBody } from './chat-request.schema';
import type { toolChoiceSchema, toolDefinitionSchema } from './chat-request.schema';
import type { CompletionsBody } from '../openai/completions-request.schema';
import type { ChatParams } from '@switchboard/chat';

type WireContent =
  | string
  | Array<{ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } }>;

function content(c: WireContent | null | undefined): string | ContentPart[] {
  if (c === null || c === undefined) return '';
  if (typeof c === 'string') return c;
  return c.map((p): ContentPart =>
    p.type === 'text' ? { type: 'text', text: p.text } : { type: 'image', url: p.image_url.url },
  );
}

export function mapTools(
  tools: z.infer<typeof toolDefinitionSchema>[] | undefined,
): ToolDefinition[] | undefined {
  return tools?.map((t) => ({
    name: t.function.name,
    description: t.function.description,
    parameters: t.function.parameters,
  }));
}

export function mapToolChoice(
  tc: z.infer<typeof toolChoiceSchema> | undefined,
): ToolChoice | undefined {
  if (tc === undefined || typeof tc === 'string') return tc;
  return { name: tc.function.name };
}

const stopList = (s: string | string[] | null | undefined) =>
  s == null ? undefined : typeof s === 'string' ? [s] : s;

export function fromChatBody(body: ChatBody): { messages: ChatMessage[]; params: ChatParams } {
  const messages: ChatMessage[] = [];
  if (body.options.prompt) messages.push({ role: 'system', content: body.options.prompt });
  for (const m of body.messages) {
    messages.push({
      role: m.role,
      content: content(m.content),
      ...(m.tool_call_id ? { toolCallId: m.tool_call_id } : {}),
      ...(m.tool_calls?.length
        ? {
            toolCalls: m.tool_calls.map((c) => ({
              id: c.id,
              name: c.function.name,
              arguments: c.function.arguments,
            })),
          }
        : {}),
    });
  }
  return {
    messages,
    params: {
      maxTokens: body.max_tokens ?? body.options.maxTokens,
      temperature: body.temperature ?? body.options.temperature,
      topP: body.top_p,
      stop: stopList(body.stop),
      tools: mapTools(body.tools),
      toolChoice: mapToolChoice(body.tool_choice),
    },
  };
}

export function fromCompletionsBody(body: CompletionsBody): {
  messages: ChatMessage[];
  params: ChatParams;
} {
  const messages = body.messages.map((m): ChatMessage => {
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: content(m.content) };
      case 'user':
        return { role: 'user', content: content(m.content), ...(m.name ? { name: m.name } : {}) };
      case 'assistant':
        return {
          role: 'assistant',
          content: content(m.content),
          ...(m.tool_calls?.length
            ? {
                toolCalls: m.tool_calls.map((c) => ({
                  id: c.id,
                  name: c.function.name,
                  arguments: c.function.arguments,
                })),
              }
            : {}),
        };
      case 'tool':
        return { role: 'tool', content: content(m.content), toolCallId: m.tool_call_id };
    }
  });
  const rf = body.response_format;
  return {
    messages,
    params: {
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
      temperature: body.temperature ?? undefined,
      topP: body.top_p ?? undefined,
      stop: stopList(body.stop),
      tools: mapTools(body.tools),
      toolChoice: mapToolChoice(body.tool_choice),
      responseFormat:
        rf === undefined
          ? undefined
          : rf.type === 'json_schema'
            ? {
                type: 'json_schema',
                name: rf.json_schema.name,
                schema: rf.json_schema.schema ?? {},
                strict: rf.json_schema.strict ?? undefined,
              }
            : { type: rf.type },
      reasoningEffort: body.reasoning_effort,
      user: body.user,
    },
  };
}
