import { z } from 'zod';
import {
  stopSchema,
  toolCallSchema,
  toolChoiceSchema,
  toolDefinitionSchema,
} from '../chat/chat-request.schema';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().regex(/^(https:|data:image\/)/, 'must be an https: or data:image/ URL'),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
const textContent = z.union([z.string(), z.array(textPart).min(1)]);

const message = z.discriminatedUnion('role', [
  z.object({
    role: z.enum(['system', 'developer']),
    content: textContent,
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(z.union([textPart, imagePart])).min(1)]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal('assistant'),
    content: textContent.nullish(),
    tool_calls: z.array(toolCallSchema).optional(),
    name: z.string().optional(),
    refusal: z.string().nullish(),
  }),
  z.object({ role: z.literal('tool'), content: textContent, tool_call_id: z.string().min(1) }),
]);

/** POST /v1/chat/completions, as OpenAI documents it. Unknown keys are ignored. */
export function completionsBodySchema(maxMessages: number) {
  return z.object({
    model: z.string().min(1).max(200),
    messages: z
      .array(message)
      .min(1, 'must contain at least one message')
      .max(maxMessages, `at most ${maxMessages} messages`),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    max_tokens: z.number().int().positive().nullish(),
    max_completion_tokens: z.number().int().positive().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    // n > 1, logprobs and other unimplemented parameters are refused before parsing
    n: z.number().int().min(1).nullish(),
    stop: stopSchema.nullish(),
    tools: z.array(toolDefinitionSchema).max(128).optional(),
    tool_choice: toolChoiceSchema.optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: z
      .union([
        z.object({ type: z.enum(['text', 'json_object']) }),
        z.object({
          type: z.literal('json_schema'),
          json_schema: z.object({
            name: z.string().min(1).max(64),
            schema: z.record(z.string(), z.unknown()).optional(),
            strict: z.boolean().nullish(),
          }),
        }),
      ])
      .optional(),
    reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).optional(),
    user: z.string().max(256).optional(),
  });
}

export type CompletionsBody = z.infer<ReturnType<typeof completionsBodySchema>>;
