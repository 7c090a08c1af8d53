import { MAX_TITLE_LENGTH } from '@switchboard/conversations';
import { z } from 'zod';

export const conversationIdSchema = z.object({ id: z.string().min(1).max(200) });

/** GET /conversations: newest activity first, paged by an opaque cursor */
export const listConversationsQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(30),
    cursor: z.string().min(1).max(500).optional(),
    q: z.string().max(200).optional(),
  })
  .strict();

export const createConversationSchema = z
  .object({ title: z.string().max(MAX_TITLE_LENGTH).optional() })
  .strict();

export const renameConversationSchema = z
  .object({ title: z.string().trim().min(1).max(MAX_TITLE_LENGTH) })
  .strict();
