import type { UrlFetcher } from '../assistants.config';
import type { AgentTool } from './tool';

export const BUILT_IN_TOOL_NAMES = [
  'search_documents',
  'read_document',
  'list_documents',
  'fetch_url',
] as const;
export type BuiltInToolName = (typeof BUILT_IN_TOOL_NAMES)[number];

/** Limits of what a user-defined assistant may search (its attached files and tags). */
export interface SearchScope {
  fileIds?: string[];
  tags?: string[];
}

const MAX_READ_CHARS = 20_000;

export function searchDocumentsTool(scope: SearchScope = {}): AgentTool {
  return {
    name: 'search_documents',
    description:
      'Search the documents the user may read (keyword and semantic). Returns the best matching passages with their file id, name and location.',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1, maxLength: 2000, description: 'what to look for' },
        k: {
          type: 'integer',
          minimum: 1,
          maximum: 20,
          description: 'passages to return (default 5)',
        },
      },
      required: ['query'],
      additionalProperties: false,
    },
    async run(args, ctx) {
      const hits = await ctx.docs.search(args.query as string, {
        k: (args.k as number | undefined) ?? 5,
        ...(scope.fileIds?.length ? { fileIds: scope.fileIds } : {}),
        ...(scope.tags?.length ? { tags: scope.tags } : {}),
      });
      return {
        results: hits.map((h) => ({
          fileId: h.fileId,
          name: h.name,
          location: h.location,
          score: Number(h.score.toFixed(4)),
          text: h.text,
        })),
      };
    },
  };
}

export function readDocumentTool(): AgentTool {
  return {
    name: 'read_document',
    description: `Read a range of characters of one document (at most ${MAX_READ_CHARS} at a time).`,
    parameters: {
      type: 'object',
      properties: {
        fileId: { type: 'string', minLength: 1, maxLength: 200 },
        offset: { type: 'integer', minimum: 0, description: 'first character (default 0)' },
        length: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_READ_CHARS,
          description: 'characters (default 4000)',
        },
      },
      required: ['fileId'],
      additionalProperties: false,
    },
    async run(args, ctx) {
      const offset = (args.offset as number | undefined) ?? 0;
      const r = await ctx.docs.read(args.fileId as string, {
        offset,
        length: (args.length as number | undefined) ?? 4000,
      });
      return { name: r.name, offset, totalChars: r.totalChars, text: r.text };
    },
  };
}

export function listDocumentsTool(): AgentTool {
  return {
    name: 'list_documents',
    description:
      'List the documents the user may read, with their file ids, names, tags and status.',
    parameters: { type: 'object', properties: {}, additionalProperties: false },
    async run(_args, ctx) {
      return { documents: await ctx.docs.list() };
    },
  };
}

const MAX_FETCH_CHARS = 20_000;

/** Only offered when the operator configured a (SSRF-guarded) fetcher. */
export function fetchUrlTool(fetcher: UrlFetcher): AgentTool {
  return {
    name: 'fetch_url',
    description: 'Fetch a public web page or document over HTTP(S) and return its text.',
    parameters: {
      type: 'object',
      properties: { url: { type: 'string', pattern: '^https?://', maxLength: 2000 } },
      required: ['url'],
      additionalProperties: false,
    },
    async run(args, ctx) {
      const r = await fetcher.fetch(args.url as string, { signal: ctx.signal });
      const text = r.body.toString('utf8');
      return {
        status: r.status,
        url: r.url,
        contentType: r.contentType,
        text: text.slice(0, MAX_FETCH_CHARS),
        ...(text.length > MAX_FETCH_CHARS ? { truncated: true } : {}),
      };
    },
  };
}

/** The built-in tools by name; `fetch_url` only with a fetcher. */
export function builtInTools(opts: {
  urlFetcher?: UrlFetcher;
  scope?: SearchScope;
}): Map<string, AgentTool> {
  const tools: AgentTool[] = [
    searchDocumentsTool(opts.scope),
    readDocumentTool(),
    listDocumentsTool(),
  ];
  if (opts.urlFetcher) tools.push(fetchUrlTool(opts.urlFetcher));
  return new Map(tools.map((t) => [t.name, t]));
}
