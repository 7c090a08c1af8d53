import { z } from 'zod';

/**
 * POST /v1/responses, as the OpenAI API documents it
 * (https://platform.openai.com/docs/api-reference/responses/create). Unknown keys
 * are ignored like OpenAI's SDK-only fields; parameters the gateway cannot honour
 * are refused by `unsupportedResponsesParameter`, never silently dropped.
 */

const imageUrl = z.string().regex(/^(https:|data:image\/)/, 'must be an https: or data:image/ URL');

const inputText = z.object({ type: z.literal('input_text'), text: z.string() });
const inputImage = z.object({
  type: z.literal('input_image'),
  image_url: imageUrl.nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['auto', 'low', 'high']).optional(),
});
const inputFile = z.object({
  type: z.literal('input_file'),
  file_id: z.string().nullish(),
  file_data: z.string().optional(),
  file_url: z.string().optional(),
  filename: z.string().optional(),
});
const outputText = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()).optional(),
  logprobs: z.array(z.unknown()).optional(),
});
const refusal = z.object({ type: z.literal('refusal'), refusal: z.string() });

const itemId = z.string().min(1).max(200);

export const messageItemSchema = z.object({
  type: z.literal('message').optional(),
  id: itemId.optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([
    z.string(),
    z.array(z.discriminatedUnion('type', [inputText, inputImage, inputFile, outputText, refusal])),
  ]),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
});

export const functionCallItemSchema = z.object({
  type: z.literal('function_call'),
  id: itemId.optional(),
  call_id: z.string().min(1).max(200),
  name: z.string().min(1).max(200),
  arguments: z.string(),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
});

export const functionCallOutputItemSchema = z.object({
  type: z.literal('function_call_output'),
  id: itemId.nullish(),
  call_id: z.string().min(1).max(200),
  output: z.union([z.string(), z.array(z.discriminatedUnion('type', [inputText]))]),
  status: z.enum(['in_progress', 'completed', 'incomplete']).nullish(),
});

/** Reasoning items a client sends back; they carry nothing a provider here can use. */
export const reasoningItemSchema = z.object({
  type: z.literal('reasoning'),
  id: itemId,
  summary: z.array(z.object({ type: z.literal('summary_text'), text: z.string() })).optional(),
  encrypted_content: z.string().nullish(),
});

/** An item of one of the caller's stored responses, by id. */
export const itemReferenceSchema = z.object({
  type: z.literal('item_reference'),
  id: itemId,
});

export const inputItemSchema = z.union([
  messageItemSchema,
  functionCallItemSchema,
  functionCallOutputItemSchema,
  reasoningItemSchema,
  itemReferenceSchema,
]);

export const functionToolSchema = z.object({
  type: z.literal('function'),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
  description: z.string().max(4096).nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

export const responsesToolChoiceSchema = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('function'), name: z.string().min(1) }),
]);

export const textFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().optional(),
    strict: z.boolean().nullish(),
  }),
]);

export function responsesBodySchema(maxItems: number) {
  return z.object({
    model: z.string().min(1).max(200),
    input: z.union([
      z.string(),
      z
        .array(inputItemSchema)
        .min(1, 'must contain at least one item')
        .max(maxItems, `at most ${maxItems} items`),
    ]),
    instructions: z.string().nullish(),
    tools: z.array(functionToolSchema).max(128).optional(),
    tool_choice: responsesToolChoiceSchema.optional(),
    parallel_tool_calls: z.boolean().nullish(),
    text: z
      .object({
        format: textFormatSchema.optional(),
        verbosity: z.enum(['low', 'medium', 'high']).nullish(),
      })
      .optional(),
    max_output_tokens: z.number().int().positive().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    reasoning: z
      .object({
        effort: z.enum(['minimal', 'low', 'medium', 'high']).nullish(),
        summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
      })
      .nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_obfuscation: z.boolean().optional() }).nullish(),
    store: z.boolean().nullish(),
    previous_response_id: z.string().min(1).max(200).nullish(),
    metadata: z
      .record(z.string().max(64), z.string().max(512))
      .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys')
      .nullish(),
    user: z.string().max(256).optional(),
    safety_identifier: z.string().max(256).optional(),
    truncation: z.literal('disabled').nullish(),
    include: z.array(z.literal('reasoning.encrypted_content')).nullish(),
    service_tier: z.enum(['auto', 'default', 'flex', 'priority', 'scale']).nullish(),
    prompt_cache_key: z.string().max(1024).optional(),
  });
}

export type ResponsesBody = z.infer<ReturnType<typeof responsesBodySchema>>;
export type InputItem = z.infer<typeof inputItemSchema>;

export const responseIdSchema = z.object({ id: z.string().min(1).max(200) });

/** GET /v1/responses/:id/input_items, as OpenAI pages lists. */
export const inputItemsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().min(1).max(200).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
});
