import { randomUUID } from 'node:crypto';
import { type Principal, hasScope } from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import type { Database } from '@switchboard/storage';
import { ExternalSourceRepository } from './external-source.repository';
import { decodeText } from '../files/content-sniffer';
import { htmlToSegments } from '../extraction/html.extractor';
import type { TextSegment } from '../extraction/extraction.types';
import { jsonToSegments, textToSegments } from '../extraction/text.extractors';
import { ExternalFetchError, type SsrfGuard } from './ssrf-guard';

export interface ExternalSourceInput {
  /** unique; referenced from chat as `source://<name>` by the gateway */
  name: string;
  /** http(s) URL; `{query}` (URL-encoded at fetch time) may appear in the path or query only */
  urlTemplate: string;
  method?: 'GET' | 'POST';
  /** header values may reference secrets as `${secret:NAME}`, resolved from the environment at fetch time */
  headers?: Record<string, string>;
  /** POST body; `{query}` is replaced by the JSON-escaped query */
  bodyTemplate?: string;
}

export interface ExternalSource extends Required<Omit<ExternalSourceInput, 'bodyTemplate'>> {
  id: string;
  bodyTemplate: string | null;
  enabled: boolean;
  createdBy: string;
  createdAt: Date;
}

export interface ExternalDocument {
  sourceName: string;
  url: string;
  segments: TextSegment[];
}

export interface ExternalSourceServiceOptions {
  guard: SsrfGuard;
  /** secret lookup (default: process.env) */
  secrets?: (name: string) => string | undefined;
  /** only secrets whose names start with this may be referenced (default `SOURCE_SECRET_`) */
  secretPrefix?: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const HEADER_RE = /^[A-Za-z0-9-]{1,64}$/;
const SECRET_REF = /\$\{secret:([A-Z][A-Z0-9_]*)\}/g;
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

const QUERY = '{query}';
/** stands in for `{query}` while the template is parsed: letters only, so valid in a host name too */
const MARKER = 'sbqueryslotmarkerx';

/**
 * A URL template may put `{query}` only in the path or the query string: the
 * scheme, credentials, host and port are fixed by the admin. Checked on the
 * raw text (every `{query}` comes after the end of the authority) and on the
 * parsed URL (the placeholder lands in `pathname` or `search`, nowhere else).
 * @throws Error with a message fit for a 400
 */
export function assertUrlTemplate(template: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(template);
  if (!scheme || !['http', 'https'].includes(scheme[1].toLowerCase()))
    throw new Error('urlTemplate must be an http(s) URL.');
  // the authority ends at the first "/", "?", "#" or "\\" (which WHATWG URLs read as "/")
  const rest = template.slice(scheme[0].length);
  const end = rest.search(/[/?#\\]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  if (authority.includes('{') || authority.includes('}') || authority.includes('@'))
    throw new Error('{query} may appear only in the path or query string, and no credentials.');
  let u: URL;
  try {
    u = new URL(template.replaceAll(QUERY, MARKER));
  } catch {
    throw new Error('urlTemplate is not a URL.');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error('urlTemplate must be an http(s) URL.');
  if (u.username || u.password)
    throw new Error('{query} may appear only in the path or query string, and no credentials.');
  const fixed = [u.protocol, u.hostname, u.port, u.hash].join(' ').toLowerCase();
  if (fixed.includes(MARKER))
    throw new Error('{query} may appear only in the path or query string, and no credentials.');
}

/**
 * The template with the URL-encoded query in its placeholders. The result must
 * keep the template's origin, whatever the query holds.
 * @throws ExternalFetchError bad_url
 */
export function fillUrlTemplate(template: string, query: string): string {
  try {
    assertUrlTemplate(template);
  } catch (err) {
    throw new ExternalFetchError('bad_url', (err as Error).message);
  }
  const url = template.replaceAll(QUERY, encodeURIComponent(query));
  const origin = new URL(template.replaceAll(QUERY, '')).origin;
  let filled: URL;
  try {
    filled = new URL(url);
  } catch {
    throw new ExternalFetchError('bad_url', 'the filled-in URL is not valid');
  }
  if (filled.origin !== origin || filled.username || filled.password)
    throw new ExternalFetchError('bad_url', 'the query changed the origin of the URL');
  return url;
}

/**
 * HTTP data sources registered by admins and fetched at chat time through the
 * SSRF guard. Secrets stay in the environment: a source stores only references
 * (`${secret:SOURCE_SECRET_X}`), and listing a source never reveals a value.
 */
export class ExternalSourceService {
  readonly #secrets: (name: string) => string | undefined;
  readonly #prefix: string;
  readonly #rows: ExternalSourceRepository;

  constructor(
    db: Database,
    private readonly options: ExternalSourceServiceOptions,
  ) {
    this.#secrets = options.secrets ?? ((n) => process.env[n]);
    this.#prefix = options.secretPrefix ?? 'SOURCE_SECRET_';
    this.#rows = new ExternalSourceRepository(db);
  }

  /** @throws AppError forbidden (not admin), invalid_request */
  async register(admin: Principal, input: ExternalSourceInput): Promise<ExternalSource> {
    if (!hasScope(admin, 'admin')) throw new AppError('forbidden');
    const src = this.validate(input);
    const created = await this.#rows.insert({
      id: randomUUID(),
      name: src.name,
      urlTemplate: src.urlTemplate,
      method: src.method,
      headers: src.headers,
      bodyTemplate: src.bodyTemplate ?? null,
      createdBy: admin.userId,
    });
    if (!created)
      throw new AppError('invalid_request', `A source named "${src.name}" exists.`, {
        param: 'name',
      });
    return created;
  }

  async list(): Promise<ExternalSource[]> {
    return this.#rows.list();
  }

  /** @throws AppError forbidden, not_found */
  async remove(admin: Principal, name: string): Promise<void> {
    if (!hasScope(admin, 'admin')) throw new AppError('forbidden');
    if (!(await this.#rows.deleteByName(name))) throw new AppError('not_found');
  }

  /**
   * Fetches a source for a query, as text segments for the context builder.
   * @throws AppError not_found (unknown or disabled source); ExternalFetchError
   */
  async fetch(name: string, query: string, signal?: AbortSignal): Promise<ExternalDocument> {
    const src = await this.#rows.findEnabled(name);
    if (!src) throw new AppError('not_found', 'The data source was not found.');
    // checked again here: a row written before the check existed, or by hand, must not
    // let a chat user's text choose where the request goes
    const url = fillUrlTemplate(src.urlTemplate, query);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(src.headers)) headers[k] = this.fillSecrets(v);
    const body = src.bodyTemplate?.replaceAll('{query}', JSON.stringify(query).slice(1, -1));
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await this.options.guard.fetch(url, { method: src.method, headers, body, signal });
    const text = decodeText(res.body, true);
    if (text === undefined)
      throw new ExternalFetchError('content_type', 'the response is not text');
    const segments =
      res.contentType === 'text/html'
        ? htmlToSegments(text)
        : res.contentType === 'application/json'
          ? jsonToSegments(text)
          : textToSegments(text);
    return { sourceName: src.name, url: res.url, segments };
  }

  private fillSecrets(value: string): string {
    return value.replace(SECRET_REF, (_m, n: string) => {
      const v = this.#secrets(n);
      if (v === undefined) throw new ExternalFetchError('bad_url', `secret ${n} is not set`);
      return v;
    });
  }

  private validate(
    input: ExternalSourceInput,
  ): ExternalSourceInput & { method: 'GET' | 'POST'; headers: Record<string, string> } {
    const bad = (param: string, message: string) =>
      new AppError('invalid_request', message, { param });
    if (typeof input.name !== 'string' || !NAME_RE.test(input.name))
      throw bad('name', 'name: 1-64 lowercase letters, digits, "_" or "-".');
    const method = input.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') throw bad('method', 'method must be GET or POST.');
    if (typeof input.urlTemplate !== 'string')
      throw bad('urlTemplate', 'urlTemplate is not a URL.');
    try {
      assertUrlTemplate(input.urlTemplate);
    } catch (err) {
      throw bad('urlTemplate', (err as Error).message);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.headers ?? {})) {
      if (
        !HEADER_RE.test(k) ||
        FORBIDDEN_HEADERS.has(k.toLowerCase()) ||
        typeof v !== 'string' ||
        /[\r\n]/.test(v)
      )
        throw bad('headers', `header "${k}" is not allowed.`);
      for (const m of v.matchAll(SECRET_REF))
        if (!m[1].startsWith(this.#prefix))
          throw bad('headers', `only secrets named ${this.#prefix}* may be referenced.`);
      headers[k] = v;
    }
    if (input.bodyTemplate !== undefined && method !== 'POST')
      throw bad('bodyTemplate', 'a body needs method POST.');
    return { ...input, method, headers };
  }
}
