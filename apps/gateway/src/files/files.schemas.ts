import { FILE_STATUSES } from '@switchboard/datasources';
import { z } from 'zod';

export const fileIdSchema = z.object({ id: z.string().min(1).max(200) });

/** GET /files: newest first, paged by offset */
export const listFilesQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
    tag: z.string().trim().min(1).max(64).optional(),
    status: z.enum(FILE_STATUSES).optional(),
  })
  .strict();

/** the tag rules themselves (characters, count) are the files service's */
export const tagsBodySchema = z.object({ tags: z.array(z.string().max(64)).max(50) }).strict();

export const sharingBodySchema = z
  .object({ accountIds: z.array(z.string().trim().min(1).max(200)).max(100) })
  .strict();

export const deadJobsQuerySchema = z
  .object({ limit: z.coerce.number().int().min(1).max(500).default(100) })
  .strict();

export const jobIdSchema = z.object({ id: z.string().min(1).max(200) });

/** the URL, header and secret rules are the external source service's */
export const sourceBodySchema = z
  .object({
    name: z.string().min(1).max(64),
    urlTemplate: z.string().min(1).max(2000),
    method: z.enum(['GET', 'POST']).optional(),
    headers: z.record(z.string(), z.string().max(4000)).optional(),
    bodyTemplate: z.string().max(16_000).optional(),
  })
  .strict();

export const sourceNameSchema = z.object({ name: z.string().min(1).max(64) });
