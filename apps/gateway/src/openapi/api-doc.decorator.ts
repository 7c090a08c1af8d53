import { SetMetadata } from '@nestjs/common';
import type { AppConfig } from '@switchboard/config';
import type { z } from 'zod';

export const API_DOC = 'switchboard:api-doc';

/** A validation schema, or a factory of one where the route builds it from configuration. */
export type SchemaRef = z.ZodType | ((config: AppConfig) => z.ZodType);

export interface RouteDoc {
  summary: string;
  tag: string;
  description?: string;
  /** the JSON body schema the route validates with */
  body?: SchemaRef;
  /** a non-JSON request body (multipart upload) */
  bodyContentType?: string;
  /** the query schema the route validates with */
  query?: z.ZodType;
  /** the success body (JSON) */
  response?: z.ZodType;
  /** the success body is not JSON (metrics, CSV, file content) */
  responseContentType?: string;
  /** Server-Sent Events: the schema of each `data:` payload */
  events?: z.ZodType;
  /** no credentials needed */
  public?: boolean;
}

/**
 * Documents a route for `/openapi.json`. Method, path, status and scope come
 * from the route's own Nest metadata; the schemas are the ones it validates with.
 */
export const ApiDoc = (doc: RouteDoc) => SetMetadata(API_DOC, doc);
