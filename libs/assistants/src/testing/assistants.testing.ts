import { AppError } from '@switchboard/common';
import type { Principal } from '@switchboard/auth';
import { loadConfig } from '@switchboard/config';
import {
  LlmService,
  createProviders,
  parseCatalogue,
  type ChatEvent,
  type ChatMessage,
  type TokenUsage,
} from '@switchboard/llm';
import {
  exposeHostUndiciDispatcher,
  startSimulator,
  type RunningSimulator,
} from '@switchboard/simulator';
import { defer, finalize, lastValueFrom, tap, toArray, type Observable } from 'rxjs';
import type {
  AssistantRunContext,
  CallParams,
  DocumentAccess,
  ModelCaller,
} from '../assistant.port';

const PRICE = { input: 1, cachedInput: 0.5, output: 2, checked: '2026-01-01' };

/**
 * Small windows so overflow, map-reduce and trimming are reached with short
 * texts. `main` answers; `cheap` maps and summarises (distinct upstream names so
 * the simulator's request log tells the calls apart).
 */
export const TEST_CATALOGUE = parseCatalogue(
  {
    models: [
      {
        id: 'main',
        provider: 'openai',
        upstreamModel: 'main-upstream',
        contextWindow: 3000,
        maxOutputTokens: 200,
        pricing: PRICE,
        capabilities: ['chat', 'streaming', 'tools'],
      },
      {
        id: 'cheap',
        provider: 'openai',
        upstreamModel: 'cheap-upstream',
        contextWindow: 2000,
        maxOutputTokens: 200,
        pricing: PRICE,
        capabilities: ['chat', 'streaming', 'tools'],
      },
      {
        id: 'plain',
        provider: 'openai',
        upstreamModel: 'plain-upstream',
        contextWindow: 3000,
        maxOutputTokens: 200,
        pricing: PRICE,
        capabilities: ['chat', 'streaming'],
      },
      {
        id: 'main-bedrock',
        provider: 'bedrock',
        upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
        contextWindow: 3000,
        maxOutputTokens: 200,
        pricing: PRICE,
        capabilities: ['chat', 'streaming', 'tools'],
      },
      {
        id: 'main-gemini',
        provider: 'gemini',
        upstreamModel: 'gemini-2.5-flash',
        contextWindow: 3000,
        maxOutputTokens: 200,
        pricing: PRICE,
        capabilities: ['chat', 'streaming', 'tools'],
      },
      {
        id: 'coder',
        provider: 'openai',
        upstreamModel: 'coder-upstream',
        contextWindow: 3000,
        maxOutputTokens: 200,
        pricing: PRICE,
        capabilities: ['chat', 'streaming', 'tools', 'code_interpreter'],
      },
    ],
  },
  'assistants test catalogue',
);

/** One model call as the gateway's ModelCaller makes it, minus retries and the ledger. */
export class SimModelCaller implements ModelCaller {
  readonly calls: Array<{
    modelId: string;
    messages: ChatMessage[];
    params: CallParams;
    /** as the provider reported it */
    usage?: TokenUsage;
  }> = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(readonly llm: LlmService) {}

  call(modelId: string, messages: ChatMessage[], params: CallParams): Observable<ChatEvent> {
    return defer(() => {
      const record: (typeof this.calls)[number] = { modelId, messages, params };
      this.calls.push(record);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return this.llm.stream(this.llm.resolve(modelId), { ...params, messages }).pipe(
        tap((e) => {
          if (e.type === 'usage') record.usage = e.usage;
        }),
        finalize(() => this.inFlight--),
      );
    });
  }
}

export interface SimWorld {
  sim: RunningSimulator;
  llm: LlmService;
  caller: SimModelCaller;
  close(): Promise<void>;
}

/** A real simulator, reached over HTTP through the real OpenAI SDK. */
export async function startSimWorld(): Promise<SimWorld> {
  exposeHostUndiciDispatcher();
  const sim = await startSimulator({ port: 0, host: '127.0.0.1' });
  const config = loadConfig({ SIMULATOR_URL: sim.url, LOG_LEVEL: 'silent' });
  const llm = new LlmService(TEST_CATALOGUE, createProviders(config, { simulatorUrl: sim.url }));
  return { sim, llm, caller: new SimModelCaller(llm), close: () => sim.close() };
}

export interface SimRequestLog {
  protocol: string;
  path: string;
  body: { model: string; messages: Array<{ role: string; content: unknown }>; max_tokens?: number };
}

export async function simRequests(sim: RunningSimulator, limit = 100): Promise<SimRequestLog[]> {
  const res = await fetch(`${sim.url}/_sim/requests?limit=${limit}`);
  const json = (await res.json()) as { requests?: SimRequestLog[] } | SimRequestLog[];
  return Array.isArray(json) ? json : (json.requests ?? []);
}

export const USER: Principal = {
  kind: 'user',
  userId: 'user-1',
  accountIds: ['acc-1'],
  scopes: ['chat'],
  limits: {},
};

export interface FakeDoc {
  fileId: string;
  name: string;
  tags: string[];
  text: string;
  mime?: string;
  /** original bytes, when they are not the text */
  data?: Uint8Array;
}

/** A DocumentAccess over a fixed set of documents; search matches words. */
export class FakeDocumentAccess implements DocumentAccess {
  readonly searches: Array<{
    query: string;
    opts?: { fileIds?: string[]; tags?: string[]; k?: number };
  }> = [];

  constructor(readonly files: FakeDoc[]) {}

  search(query: string, opts?: { fileIds?: string[]; tags?: string[]; k?: number }) {
    this.searches.push({ query, opts });
    const words = query
      .toLowerCase()
      .split(/\W+/)
      .filter((w) => w.length > 2);
    const hits = this.files
      .filter((f) => !opts?.fileIds || opts.fileIds.includes(f.fileId))
      .filter((f) => !opts?.tags || f.tags.some((t) => opts.tags!.includes(t)))
      .map((f) => ({ f, score: words.filter((w) => f.text.toLowerCase().includes(w)).length }))
      .filter((h) => h.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, opts?.k ?? 5);
    return Promise.resolve(
      hits.map((h) => ({
        fileId: h.f.fileId,
        name: h.f.name,
        location: 'chunk 1',
        score: h.score,
        text: h.f.text,
      })),
    );
  }

  read(fileId: string, opts?: { offset?: number; length?: number }) {
    const f = this.files.find((x) => x.fileId === fileId);
    if (!f) return Promise.reject(new Error(`no such file ${fileId}`));
    const offset = opts?.offset ?? 0;
    return Promise.resolve({
      name: f.name,
      text: f.text.slice(offset, offset + (opts?.length ?? 4000)),
      totalChars: f.text.length,
    });
  }

  list() {
    return Promise.resolve(
      this.files.map((f) => ({ fileId: f.fileId, name: f.name, tags: f.tags, status: 'ready' })),
    );
  }
  /** the text as UTF-8 bytes; `data:` overrides for binary tests */
  content(fileId: string, maxBytes: number) {
    const f = this.files.find((x) => x.fileId === fileId);
    if (!f) return Promise.reject(new AppError('not_found', 'File not found.'));
    const data = f.data ?? Buffer.from(f.text, 'utf8');
    if (data.byteLength > maxBytes)
      return Promise.reject(new AppError('payload_too_large', `${f.name} is too large.`));
    return Promise.resolve({ name: f.name, mime: f.mime ?? 'text/plain', data });
  }
}

export function runContext(
  world: { caller: ModelCaller },
  over: Partial<AssistantRunContext> & Pick<AssistantRunContext, 'messages'>,
): AssistantRunContext {
  return {
    requestId: 'req-1',
    principal: USER,
    modelId: 'main',
    params: {},
    documents: [],
    caller: world.caller,
    docs: new FakeDocumentAccess([]),
    signal: new AbortController().signal,
    ...over,
  };
}

export function collect(o: Observable<ChatEvent>): Promise<ChatEvent[]> {
  return lastValueFrom(o.pipe(toArray()));
}

export function textOfEvents(events: ChatEvent[]): string {
  return events
    .filter((e): e is Extract<ChatEvent, { type: 'text' }> => e.type === 'text')
    .map((e) => e.text)
    .join('');
}

export function statuses(events: ChatEvent[]): Array<Extract<ChatEvent, { type: 'status' }>> {
  return events.filter((e): e is Extract<ChatEvent, { type: 'status' }> => e.type === 'status');
}
