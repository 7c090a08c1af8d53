import { AppError, type FieldError } from '@switchboard/common';
import type { z } from 'zod';

/** Validates a body against a schema; 400 with field-level details on failure. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body))
    throw new AppError('invalid_request', 'The request body must be a JSON object.');
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const details: FieldError[] = r.error.issues.slice(0, 20).map((i) => ({
    path: i.path.map(String).join('.') || '(body)',
    message: i.message,
  }));
  const first = details[0];
  throw new AppError(
    'invalid_request',
    first ? `${first.path}: ${first.message}` : 'The request is invalid.',
    {
      details,
      param: first?.path,
    },
  );
}
