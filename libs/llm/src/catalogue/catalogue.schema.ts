import { z } from 'zod';

const capability = z.enum([
  'chat',
  'streaming',
  'tools',
  'vision',
  'json_schema',
  'reasoning',
  'embeddings',
  'code_interpreter',
]);

export const catalogueModelSchema = z
  .object({
    id: z.string().min(1).max(200),
    provider: z.enum(['openai', 'openai-compatible', 'azure-openai', 'bedrock', 'gemini']),
    providerInstance: z.string().optional(),
    upstreamModel: z.string().min(1),
    displayName: z.string().optional(),
    contextWindow: z.number().int().positive(),
    maxOutputTokens: z.number().int().nonnegative(),
    pricing: z.object({
      input: z.number().nonnegative(),
      cachedInput: z.number().nonnegative(),
      output: z.number().nonnegative(),
      codeInterpreterSession: z.number().nonnegative().optional(),
      checked: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    }),
    capabilities: z.array(capability).min(1),
    fallbacks: z.array(z.string()).optional(),
    simulated: z.boolean().optional(),
    ttftTimeoutMs: z.number().int().positive().optional(),
    idleTimeoutMs: z.number().int().positive().optional(),
    wholeTimeoutMs: z.number().int().positive().optional(),
  })
  .refine(
    (m) =>
      !m.capabilities.includes('code_interpreter') ||
      m.provider === 'openai' ||
      m.provider === 'azure-openai' ||
      m.provider === 'gemini',
    {
      message:
        'code_interpreter needs hosted code execution: provider openai or azure-openai (Responses API) or gemini',
      path: ['capabilities'],
    },
  );

export const catalogueFileSchema = z.object({
  $comment: z.string().optional(),
  models: z.array(catalogueModelSchema),
});
