import type { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { parseBody } from './parse-body';

/**
 * Validates a handler argument against a zod schema: `@Body(new ZodBody(schema))`. A
 * failure is the same 400 `invalid_request` with field details as everywhere else.
 */
export class ZodBody<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    /** an absent body counts as `{}` (routes whose every field is optional) */
    private readonly opts: { optional?: boolean } = {},
  ) {}

  transform(value: unknown): z.infer<S> {
    return parseBody(this.schema, value === undefined && this.opts.optional ? {} : value);
  }
}

/**
 * Route parameters and query strings, validated like bodies: `@Param(new ZodInput(schema))`.
 * Express hands over a null-prototype object; the schema sees a plain copy.
 */
export class ZodInput<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    return parseBody(this.schema, { ...(value as object) });
  }
}
