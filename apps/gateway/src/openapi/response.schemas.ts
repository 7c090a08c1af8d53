import { z } from 'zod';

/**
 * Shapes of what the routes answer, for the API reference. Request schemas are
 * the validation schemas themselves; these describe the views the controllers
 * build (`*.view.ts`, the OpenAI objects), field by field.
 */

const ts = z.string().describe('ISO 8601 timestamp');
const nullableTs = ts.nullable();
const list = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item) });

export const errorSchema = z.object({
  error: z.object({
    code: z.string().describe('stable code from the error catalogue'),
    message: z.string(),
    type: z.string().describe('OpenAI-style error type'),
    param: z.string().nullable(),
    requestId: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

const limits = z
  .object({
    requestsPerMinute: z.number().int().optional(),
    tokensPerMinute: z.number().int().optional(),
    concurrentStreams: z.number().int().optional(),
  })
  .nullable();

export const apiKeySchema = z.object({
  id: z.string(),
  prefix: z.string(),
  name: z.string().nullable(),
  ownerUserId: z.string(),
  accountId: z.string(),
  scopes: z.array(z.string()),
  limits,
  status: z.enum(['active', 'rotating', 'expired', 'revoked']),
  expiresAt: nullableTs,
  revokedAt: nullableTs,
  rotatedFrom: z.string().nullable(),
  graceUntil: nullableTs,
  lastUsedAt: nullableTs,
  createdAt: ts,
});
export const apiKeyListSchema = list(apiKeySchema);
export const issuedKeySchema = z.object({
  key: z.string().describe('the secret, shown once'),
  record: apiKeySchema,
});
export const rotatedKeySchema = issuedKeySchema.extend({ previous: apiKeySchema });

export const accountSchema = z.object({
  id: z.string(),
  name: z.string(),
  limits,
  createdAt: ts,
});
export const accountListSchema = list(accountSchema);
export const membersSchema = list(z.object({ userId: z.string() }));

export const budgetSchema = z.object({
  scopeType: z.string(),
  scopeId: z.string(),
  period: z.string(),
  limitMicros: z.number().int(),
  limitUsd: z.number(),
  spentMicros: z.number().int().optional(),
  heldMicros: z.number().int().optional(),
  spentUsd: z.number().optional(),
  heldUsd: z.number().optional(),
});
export const budgetListSchema = list(budgetSchema);

export const meSchema = z.object({
  kind: z.string(),
  userId: z.string(),
  accountIds: z.array(z.string()),
  defaultAccountId: z.string().nullable(),
  keyId: z.string().nullable(),
  scopes: z.array(z.string()),
  limits: z.record(z.string(), z.unknown()).nullable(),
});

export const fileSchema = z.object({
  id: z.string(),
  name: z.string(),
  mime: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  status: z.enum(['queued', 'processing', 'ready', 'failed', 'stored']),
  error: z.string().nullable(),
  tags: z.array(z.string()),
  ownerUserId: z.string(),
  owned: z.boolean(),
  sharedAccountIds: z.array(z.string()),
  contentUrl: z.string(),
  createdAt: ts,
  updatedAt: ts,
});
export const fileListSchema = z.object({
  data: z.array(fileSchema),
  limit: z.number().int(),
  offset: z.number().int(),
  nextOffset: z.number().int().nullable(),
});
export const tagListSchema = list(z.object({ tag: z.string(), files: z.number().int() }));

export const jobSchema = z.object({
  id: z.string(),
  kind: z.string(),
  payload: z.unknown(),
  status: z.string(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  lastError: z.string().nullable(),
  runAt: ts,
  deadAt: nullableTs,
  createdAt: ts,
});
export const jobListSchema = list(jobSchema);

export const sourceSchema = z.object({
  id: z.string(),
  name: z.string(),
  urlTemplate: z.string(),
  method: z.enum(['GET', 'POST']),
  headers: z.record(z.string(), z.string()),
  bodyTemplate: z.string().nullable(),
  enabled: z.boolean(),
  createdBy: z.string(),
  createdAt: ts,
});
export const sourceListSchema = list(sourceSchema);

export const assistantSchema = z.object({
  id: z.string(),
  ownerUserId: z.string(),
  name: z.string(),
  instructions: z.string(),
  model: z.string().nullable(),
  fileIds: z.array(z.string()),
  tags: z.array(z.string()),
  tools: z.array(z.string()),
  sharedAccountIds: z.array(z.string()),
  createdAt: ts,
  updatedAt: ts,
});
export const assistantListSchema = list(assistantSchema);

export const usageReportSchema = z.object({
  from: ts,
  to: ts,
  groupBy: z.array(z.enum(['user', 'account', 'key', 'model', 'day'])),
  userId: z.string().nullable(),
  accountId: z.string().nullable(),
  data: z.array(
    z.object({
      userId: z.string().optional(),
      accountId: z.string().nullable().optional(),
      keyId: z.string().nullable().optional(),
      model: z.string().optional(),
      day: z.string().optional(),
      requests: z.number().int(),
      inputTokens: z.number().int(),
      cachedInputTokens: z.number().int(),
      outputTokens: z.number().int(),
      reasoningTokens: z.number().int(),
      costMicros: z.number().int(),
    }),
  ),
});

export const healthSchema = z
  .object({
    status: z.string(),
    info: z.record(z.string(), z.unknown()).optional(),
    error: z.record(z.string(), z.unknown()).optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

const openAiModel = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: z.number().int(),
  owned_by: z.string(),
  provider: z.string(),
  context_window: z.number().int(),
  max_output_tokens: z.number().int(),
  capabilities: z.array(z.string()),
  simulated: z.boolean(),
  pricing: z.record(z.string(), z.unknown()).optional().describe('admins only'),
});
export const modelSchema = openAiModel;
export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(openAiModel) });

const completionUsage = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int() }),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
});
const toolCall = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
export const chatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  system_fingerprint: z.null(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({
        role: z.literal('assistant'),
        content: z.string().nullable(),
        refusal: z.null(),
        tool_calls: z.array(toolCall).optional(),
      }),
      logprobs: z.null(),
      finish_reason: z.enum(['stop', 'length', 'tool_calls', 'content_filter']),
    }),
  ),
  usage: completionUsage,
});
export const chatCompletionChunkSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z.object({
        role: z.literal('assistant').optional(),
        content: z.string().optional(),
        tool_calls: z.array(z.record(z.string(), z.unknown())).optional(),
      }),
      finish_reason: z.string().nullable(),
    }),
  ),
  usage: completionUsage.optional(),
});

export const embeddingsSchema = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      object: z.literal('embedding'),
      index: z.number().int(),
      embedding: z.union([z.array(z.number()), z.string().describe('base64 float32')]),
    }),
  ),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
});

const responseItem = z
  .object({
    id: z.string(),
    type: z.enum(['message', 'function_call', 'function_call_output', 'reasoning']),
    status: z.string().optional(),
    role: z.string().optional(),
    content: z.unknown().optional(),
    call_id: z.string().optional(),
    name: z.string().optional(),
    arguments: z.string().optional(),
    output: z.unknown().optional(),
  })
  .loose();

export const responseObjectSchema = z
  .object({
    id: z.string(),
    object: z.literal('response'),
    created_at: z.number().int(),
    status: z.enum(['in_progress', 'completed', 'incomplete', 'failed']),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    incomplete_details: z.object({ reason: z.string() }).nullable(),
    instructions: z.string().nullable(),
    max_output_tokens: z.number().int().nullable(),
    model: z.string(),
    output: z.array(responseItem),
    parallel_tool_calls: z.boolean(),
    previous_response_id: z.string().nullable(),
    store: z.boolean(),
    temperature: z.number(),
    text: z.object({ format: z.record(z.string(), z.unknown()) }).loose(),
    tool_choice: z.unknown(),
    tools: z.array(z.record(z.string(), z.unknown())),
    top_p: z.number(),
    usage: z
      .object({
        input_tokens: z.number().int(),
        input_tokens_details: z.object({ cached_tokens: z.number().int() }),
        output_tokens: z.number().int(),
        output_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
        total_tokens: z.number().int(),
      })
      .nullable(),
    metadata: z.record(z.string(), z.string()),
  })
  .loose();

export const responseEventSchema = z
  .object({
    type: z.enum([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
      'response.incomplete',
      'response.failed',
    ]),
    sequence_number: z.number().int(),
    response: responseObjectSchema.optional(),
    output_index: z.number().int().optional(),
    content_index: z.number().int().optional(),
    item_id: z.string().optional(),
    item: responseItem.optional(),
    delta: z.string().optional(),
    text: z.string().optional(),
    arguments: z.string().optional(),
  })
  .loose();

export const inputItemListSchema = z.object({
  object: z.literal('list'),
  data: z.array(responseItem),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
  has_more: z.boolean(),
});

export const responseDeletedSchema = z.object({
  id: z.string(),
  object: z.literal('response'),
  deleted: z.literal(true),
});

/** One `data:` frame of POST /chat (DESIGN.md wire contract). */
export const switchboardFrameSchema = z.union([
  z.object({ s: z.literal('answer'), d: z.string() }),
  z.object({ s: z.literal('meta'), st: z.record(z.string(), z.unknown()) }),
  z.object({ s: z.literal('meta'), state: z.record(z.string(), z.unknown()) }),
  z.object({
    s: z.literal('tool_call'),
    d: z.object({
      index: z.number().int(),
      id: z.string().optional(),
      name: z.string().optional(),
      arguments: z.string(),
    }),
  }),
  z.object({ s: z.literal('error'), error: z.object({ code: z.string(), message: z.string() }) }),
  z
    .object({
      s: z.literal('result'),
      type: z.literal('end'),
      usage: z.record(z.string(), z.unknown()),
      model: z.string(),
      provider: z.string(),
      attempt: z.number().int(),
      status: z.enum(['complete', 'cancelled', 'error']),
    })
    .loose(),
]);

export const killSwitchResultSchema = z.object({ requestId: z.string(), killed: z.boolean() });

export const conversationSchema = z.object({
  id: z.string(),
  title: z.string(),
  createdAt: ts,
  updatedAt: ts,
});
export const conversationListSchema = z.object({
  data: z.array(conversationSchema),
  nextCursor: z.string().nullable().describe('pass as `cursor` for the next page'),
});
export const conversationMessageListSchema = list(
  z.object({
    id: z.string(),
    role: z.enum(['user', 'assistant']),
    content: z.string(),
    status: z.enum(['streaming', 'complete', 'cancelled', 'error']),
    requestId: z.string().nullable(),
    model: z.string().nullable(),
    sources: z.array(
      z.object({
        n: z.number().int(),
        fileId: z.string(),
        name: z.string(),
        location: z.string(),
        score: z.number(),
        snippet: z.string(),
      }),
    ),
    generatedFiles: z.array(
      z.object({ fileId: z.string(), name: z.string(), mime: z.string(), size: z.number().int() }),
    ),
    usage: z
      .object({
        inputTokens: z.number().int(),
        cachedInputTokens: z.number().int(),
        outputTokens: z.number().int(),
        reasoningTokens: z.number().int(),
        costMicros: z.number().int(),
        estimated: z.boolean(),
      })
      .nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    createdAt: ts,
  }),
);
