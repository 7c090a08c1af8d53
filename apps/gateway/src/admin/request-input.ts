import type { Principal } from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import type { z } from 'zod';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';

/** The caller, set by the edge middleware on every non-public path. */
export function principalOf(req: GatewayRequest): Principal {
  if (!req.principal) throw new AppError('unauthorized');
  return req.principal;
}

/**
 * Query strings and route parameters validated like bodies (400 with field
 * details). Express hands over a null-prototype object; copy it so the
 * schema sees a plain one.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  return parseBody(schema, { ...(input as object) });
}
