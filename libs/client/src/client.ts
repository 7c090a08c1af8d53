import { ChatStream, sseMessages, streamInfo, type StreamInfo } from './chat-stream';
import { FrameError } from './chat-frames';
import { SwitchboardApiError, toApiError } from './errors';
import type {
  AssistantInfo,
  ChatRequestBody,
  ConversationInfo,
  ConversationMessage,
  FileInfo,
  Me,
  ModelInfo,
  Page,
} from './types';

export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

export interface ClientOptions {
  /** the gateway's origin, e.g. `https://chat.example.com`; '' = same origin (browsers) */
  baseUrl?: string;
  /** bearer token: an API key or an OIDC access token, or a function returning the current one */
  token?: TokenSource;
  /** a fetch implementation (defaults to the global one) */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

/** One chunk of an OpenAI `chat.completion.chunk` stream (only the fields clients read most). */
export interface CompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: string; content?: string | null; tool_calls?: unknown[] };
    finish_reason: string | null;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  [key: string]: unknown;
}

/** Random correlation id; `crypto.randomUUID` needs a secure context, getRandomValues does not. */
export function newRequestId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return `web-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Typed client of the Switchboard API for browsers and Node (>= 18): `/chat`
 * frames as typed events, OpenAI-compatible streams, and the JSON routes the
 * web app uses. Errors are `SwitchboardApiError` with the gateway's stable code.
 */
export class SwitchboardClient {
  readonly baseUrl: string;
  #token: TokenSource | undefined;
  readonly #fetch: typeof fetch;

  constructor(opts: ClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? '').replace(/\/+$/, '');
    this.#token = opts.token;
    const f = opts.fetch ?? globalThis.fetch;
    // browsers refuse fetch called with another `this`
    this.#fetch = (input, init) => f.call(globalThis, input, init);
  }

  setToken(token: TokenSource | undefined): void {
    this.#token = token;
  }

  async #headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const t = typeof this.#token === 'function' ? await this.#token() : this.#token;
    return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
  }

  url(path: string, query?: RequestOptions['query']): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  /** Sends a request and returns the raw response; non-2xx throws `SwitchboardApiError`. */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const json = opts.body !== undefined && !(opts.body instanceof FormData);
    const res = await this.#fetch(this.url(path, opts.query), {
      method,
      headers: await this.#headers(json ? { 'content-type': 'application/json' } : {}),
      body: json ? JSON.stringify(opts.body) : (opts.body as FormData | undefined),
      signal: opts.signal,
    });
    if (!res.ok) throw await toApiError(res);
    return res;
  }

  /** A JSON route; 204 answers `undefined`. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // --- streaming ------------------------------------------------------------

  /**
   * POST /chat. Resolves once the gateway answered with its headers: an error
   * before the first byte (401, 402 budget_exceeded, 429...) rejects with
   * `SwitchboardApiError`; later errors arrive as `error` events.
   */
  async chat(body: ChatRequestBody, opts: { signal?: AbortSignal } = {}): Promise<ChatStream> {
    const requestId = body.options.requestId ?? newRequestId();
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) controller.abort();
    const res = await this.raw('POST', '/chat', {
      body: { ...body, options: { ...body.options, requestId } },
      signal: controller.signal,
    });
    return new ChatStream(res, requestId, controller, (id) => this.kill(id));
  }

  /** The kill switch (POST /chat/cancel): stops a request of yours wherever it runs. */
  async kill(requestId: string): Promise<boolean> {
    const r = await this.request<{ killed: boolean }>('POST', '/chat/cancel', {
      body: { requestId },
    });
    return r.killed;
  }

  /**
   * POST /v1/chat/completions with `stream: true`: the OpenAI chunks, then the
   * usage chunk when `stream_options.include_usage` is set.
   */
  async completions(
    body: Record<string, unknown>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ info: StreamInfo; chunks: AsyncIterable<CompletionChunk> }> {
    const res = await this.raw('POST', '/v1/chat/completions', {
      body: { ...body, stream: true },
      signal: opts.signal,
    });
    const info = streamInfo(res, res.headers.get('x-request-id') ?? '');
    if (!res.body) throw new FrameError('response has no body', '');
    const stream = res.body;
    async function* chunks(): AsyncGenerator<CompletionChunk> {
      let done = false;
      for await (const msg of sseMessages(stream, opts.signal)) {
        if (msg.kind !== 'data') continue;
        if (msg.data === '[DONE]') {
          done = true;
          continue;
        }
        let j: unknown;
        try {
          j = JSON.parse(msg.data);
        } catch {
          throw new FrameError('chunk is not JSON', msg.data);
        }
        const err = (j as { error?: { code?: string; message?: string } }).error;
        if (err)
          throw new SwitchboardApiError(200, {
            code: err.code ?? 'upstream_error',
            message: err.message ?? '',
          });
        yield j as CompletionChunk;
      }
      if (!done && !opts.signal?.aborted)
        throw new FrameError('the stream ended without [DONE]', '');
    }
    return { info, chunks: chunks() };
  }

  // --- reads and writes the web app uses ---------------------------------------

  me(): Promise<Me> {
    return this.request('GET', '/me');
  }

  async models(): Promise<ModelInfo[]> {
    return (await this.request<{ data: ModelInfo[] }>('GET', '/v1/models')).data;
  }

  async assistants(): Promise<AssistantInfo[]> {
    return (await this.request<{ data: AssistantInfo[] }>('GET', '/assistants')).data;
  }

  async files(): Promise<FileInfo[]> {
    return (await this.request<{ data: FileInfo[] }>('GET', '/files')).data;
  }

  file(id: string): Promise<FileInfo> {
    return this.request('GET', `/files/${encodeURIComponent(id)}`);
  }

  /** Uploads a file (multipart); ingestion runs in the background: poll `file(id)`. */
  uploadFile(file: Blob, name: string): Promise<FileInfo> {
    const form = new FormData();
    form.set('file', file, name);
    return this.request('POST', '/files', { body: form });
  }

  /** Replaces the tags of a file you own. */
  setFileTags(id: string, tags: string[]): Promise<FileInfo> {
    return this.request('PUT', `/files/${encodeURIComponent(id)}/tags`, { body: { tags } });
  }

  deleteFile(id: string): Promise<void> {
    return this.request('DELETE', `/files/${encodeURIComponent(id)}`);
  }

  /** The bytes of a file (a download or an image produced by the code interpreter). */
  async fileContent(id: string): Promise<Blob> {
    return (await this.raw('GET', `/files/${encodeURIComponent(id)}/content`)).blob();
  }

  async tags(): Promise<Array<{ tag: string; files: number }>> {
    return (await this.request<{ data: Array<{ tag: string; files: number }> }>('GET', '/tags'))
      .data;
  }

  // conversations
  conversations(
    q: { cursor?: string; limit?: number; q?: string } = {},
  ): Promise<Page<ConversationInfo>> {
    return this.request('GET', '/conversations', { query: q });
  }

  createConversation(title?: string): Promise<ConversationInfo> {
    return this.request('POST', '/conversations', { body: title ? { title } : {} });
  }

  renameConversation(id: string, title: string): Promise<ConversationInfo> {
    return this.request('PATCH', `/conversations/${encodeURIComponent(id)}`, { body: { title } });
  }

  deleteConversation(id: string): Promise<void> {
    return this.request('DELETE', `/conversations/${encodeURIComponent(id)}`);
  }

  async conversationMessages(id: string): Promise<ConversationMessage[]> {
    const r = await this.request<{ data: ConversationMessage[] }>(
      'GET',
      `/conversations/${encodeURIComponent(id)}/messages`,
    );
    return r.data;
  }

  /** GET /usage/report as CSV text. */
  async usageCsv(query: Record<string, string>): Promise<string> {
    return (await this.raw('GET', '/usage/report', { query: { ...query, format: 'csv' } })).text();
  }
}
