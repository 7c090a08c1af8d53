import type { Response } from 'express';
import { errorBody, type AppError } from '@switchboard/common';

/** Writes the JSON error body (README, "Errors") with its status and retry headers. */
export function sendError(res: Response, err: AppError, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(err.status);
  if (err.extra.retryAfterSeconds !== undefined)
    res.setHeader('Retry-After', String(Math.ceil(err.extra.retryAfterSeconds)));
  for (const [k, v] of Object.entries(err.extra.headers ?? {})) res.setHeader(k, v);
  res.json(errorBody(err, requestId));
}
