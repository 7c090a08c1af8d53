import { accountIdSchema } from '@switchboard/auth';
import { ASSISTANT_TOOLS, type AssistantInput } from '@switchboard/assistants';
import { z } from 'zod';

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

/** POST and PUT bodies: PUT replaces the whole definition. */
export const assistantBodySchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    instructions: z.string().max(32_000).default(''),
    model: z.string().min(1).max(200).nullish(),
    fileIds: z.array(z.string().min(1).max(200)).max(100).default([]),
    tags: z.array(z.string().min(1).max(100)).max(50).default([]),
    tools: z.array(z.enum(ASSISTANT_TOOLS)).max(ASSISTANT_TOOLS.length).default([]),
    sharedAccountIds: z.array(accountIdSchema).max(50).default([]),
  })
  .strict()
  .transform((b): AssistantInput => ({
    name: b.name,
    instructions: b.instructions,
    model: b.model ?? null,
    fileIds: unique(b.fileIds),
    tags: unique(b.tags),
    tools: unique(b.tools),
    sharedAccountIds: unique(b.sharedAccountIds),
  }));

export const assistantIdSchema = z.object({ id: z.string().min(1).max(200) });
