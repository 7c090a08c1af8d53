import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod, type Type } from '@nestjs/common';
import type { AppConfig } from '@switchboard/config';
import { z } from 'zod';
import { SCOPE_KEY } from '../auth/scopes.guard';
import { API_DOC, type RouteDoc, type SchemaRef } from './api-doc.decorator';
import { errorSchema } from './response.schemas';

/** One route of the app, read from the Nest metadata of its controller. */
export interface RouteInfo {
  method: string;
  /** Express style: `/v1/responses/:id` */
  path: string;
  status: number;
  scope?: string;
  doc?: RouteDoc;
  handler: string;
}

const METHOD_NAMES: Partial<Record<RequestMethod, string>> = {
  [RequestMethod.GET]: 'get',
  [RequestMethod.POST]: 'post',
  [RequestMethod.PUT]: 'put',
  [RequestMethod.DELETE]: 'delete',
  [RequestMethod.PATCH]: 'patch',
  [RequestMethod.HEAD]: 'head',
  [RequestMethod.OPTIONS]: 'options',
};

function joinPath(...parts: Array<string | string[] | undefined>): string {
  const segs = parts
    .map((p) => (Array.isArray(p) ? p[0] : p) ?? '')
    .flatMap((p) => p.split('/'))
    .filter(Boolean);
  return `/${segs.join('/')}`;
}

/** Every route of the controllers, in declaration order. */
export function routesOf(controllers: Type[]): RouteInfo[] {
  const out: RouteInfo[] = [];
  for (const ctl of controllers) {
    const prefix = Reflect.getMetadata(PATH_METADATA, ctl) as string | string[] | undefined;
    const classScope = Reflect.getMetadata(SCOPE_KEY, ctl) as string | undefined;
    const proto = ctl.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = proto[name];
      if (name === 'constructor' || typeof fn !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
      const path = Reflect.getMetadata(PATH_METADATA, fn) as string | string[] | undefined;
      if (method === undefined || path === undefined) continue;
      const verb = METHOD_NAMES[method];
      if (!verb) continue;
      const code = Reflect.getMetadata(HTTP_CODE_METADATA, fn) as number | undefined;
      out.push({
        method: verb,
        path: joinPath(prefix, path),
        status: code ?? (verb === 'post' ? 201 : 200),
        scope: (Reflect.getMetadata(SCOPE_KEY, fn) as string | undefined) ?? classScope,
        doc: Reflect.getMetadata(API_DOC, fn) as RouteDoc | undefined,
        handler: `${ctl.name}.${name}`,
      });
    }
  }
  return out;
}

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Json;
  return rest;
}

const resolve = (s: SchemaRef, config: AppConfig): z.ZodType =>
  typeof s === 'function' ? s(config) : s;

const ERROR_RESPONSE = {
  description: 'Error (code from the error catalogue)',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
};

/** Query parameters of a query schema (an object schema). */
function queryParameters(schema: z.ZodType): Json[] {
  const js = jsonSchema(schema, 'input');
  const props = (js.properties ?? {}) as Record<string, Json>;
  const required = new Set((js.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: s,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
  }));
}

/**
 * The OpenAPI 3.1 document of the app, built from the routes' Nest metadata and
 * the zod schemas they validate with (`z.toJSONSchema`), so it cannot drift
 * from what the routes accept.
 */
export function buildOpenApiDocument(
  controllers: Type[],
  config: AppConfig,
  info: { version: string },
): Json {
  const paths: Record<string, Json> = {};
  for (const r of routesOf(controllers)) {
    // a route without @ApiDoc is still listed (the reference test requires one on every route)
    const doc: RouteDoc = r.doc ?? { summary: r.handler, tag: 'undocumented' };
    const oaPath = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const pathParams = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const op: Json = {
      operationId: r.handler.replace('.', '_'),
      summary: doc.summary,
      tags: [doc.tag],
      ...(doc.description ? { description: doc.description } : {}),
      ...(doc.public ? { security: [] } : {}),
      ...(r.scope ? { 'x-required-scope': r.scope } : {}),
    };
    const params = [...pathParams, ...(doc.query ? queryParameters(doc.query) : [])];
    if (params.length) op.parameters = params;
    if (doc.body)
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: jsonSchema(resolve(doc.body, config), 'input') } },
      };
    else if (doc.bodyContentType)
      op.requestBody = {
        required: true,
        content: {
          [doc.bodyContentType]: {
            schema: { type: 'string', contentMediaType: doc.bodyContentType },
          },
        },
      };
    const success: Json = { description: STATUS_TEXT[r.status] ?? 'Success' };
    const content: Json = {};
    if (doc.response) content['application/json'] = { schema: jsonSchema(doc.response, 'output') };
    if (doc.events)
      content['text/event-stream'] = {
        schema: {
          type: 'string',
          description:
            'Server-Sent Events; each `data:` line holds one JSON payload of the schema in `x-event-schema`',
        },
        'x-event-schema': jsonSchema(doc.events, 'output'),
      };
    if (doc.responseContentType) content[doc.responseContentType] = { schema: { type: 'string' } };
    if (Object.keys(content).length) success.content = content;
    op.responses = {
      [String(r.status)]: success,
      ...(doc.public ? {} : { '401': ERROR_RESPONSE }),
      default: ERROR_RESPONSE,
    };
    paths[oaPath] = { ...(paths[oaPath] ?? {}), [r.method]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard',
      version: info.version,
      description:
        'Streaming LLM chat gateway: Switchboard frames on POST /chat, the OpenAI API under /v1, files, assistants, administration and usage.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key (sb_...), a Cognito/OIDC access token or the bootstrap admin key',
        },
      },
      schemas: { Error: jsonSchema(errorSchema, 'output') },
    },
  };
}
