import { z } from 'zod';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().regex(/^(https:|data:image\/)/, 'must be an https: or data:image/ URL'),
  }),
});

export const toolCallSchema = z.object({
  id: z.string().min(1).max(200),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().min(1).max(200), arguments: z.string() }),
});

export const toolDefinitionSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
    description: z.string().max(4096).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

export const toolChoiceSchema = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

export const stopSchema = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]);

/** a file id or tag://<name>, bare or as `{id}` (Amplify sends objects) */
export const dataSourceRef = z.union([
  z.string().min(1).max(300),
  z.object({ id: z.string().min(1).max(300) }).transform((o) => o.id),
]);

const chatMessage = z
  .object({
    role: z.enum(['system', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(z.union([textPart, imagePart])).min(1)]),
    tool_call_id: z.string().min(1).optional(),
    tool_calls: z.array(toolCallSchema).optional(),
    data: z
      .object({ dataSources: z.array(dataSourceRef).max(100).optional() })
      .catchall(z.unknown())
      .optional(),
  })
  .refine((m) => m.role !== 'tool' || m.tool_call_id !== undefined, {
    message: 'tool messages need tool_call_id',
    path: ['tool_call_id'],
  });

/** POST /chat (Switchboard/Amplify shape). Unknown keys are ignored. */
export function chatBodySchema(maxMessages: number) {
  return z
    .object({
      messages: z
        .array(chatMessage)
        .min(1, 'must contain at least one message')
        .max(maxMessages, `at most ${maxMessages} messages`),
      options: z.object({
        model: z.object({ id: z.string().min(1).max(200) }),
        requestId: z
          .string()
          .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 . _ : -')
          .optional(),
        assistantId: z.string().max(200).optional(),
        /** append this turn to a stored conversation of the caller */
        conversationId: z.string().min(1).max(200).optional(),
        accountId: z.string().max(200).optional(),
        ragOnly: z.boolean().optional(),
        skipRag: z.boolean().optional(),
        prompt: z.string().optional(),
        maxTokens: z.number().int().positive().optional(),
        temperature: z.number().min(0).max(2).optional(),
      }),
      dataSources: z.array(dataSourceRef).max(100).optional(),
      max_tokens: z.number().int().positive().optional(),
      temperature: z.number().min(0).max(2).optional(),
      top_p: z.number().min(0).max(1).optional(),
      stop: stopSchema.optional(),
      tools: z.array(toolDefinitionSchema).max(128).optional(),
      tool_choice: toolChoiceSchema.optional(),
    })
    .refine(
      (b) =>
        b.messages.length === 0 ||
        ['user', 'tool'].includes(b.messages[b.messages.length - 1]?.role),
      {
        message: 'the last message must be from the user (or a tool result)',
        path: ['messages'],
      },
    );
}

export type ChatBody = z.infer<ReturnType<typeof chatBodySchema>>;

const cancelledRequestId = z.string().min(1).max(128);

export const killSwitchSchema = z.object({
  killSwitch: z.object({
    requestId: cancelledRequestId,
    value: z.boolean(),
  }),
});

/** POST /chat/cancel: the request id the client knows (its own, or x-request-id) */
export const cancelSchema = z.strictObject({ requestId: cancelledRequestId });
