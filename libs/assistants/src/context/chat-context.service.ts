import { Injectable, Optional } from '@nestjs/common';
import type { ArtifactStore, DocumentAccess } from '../assistant.port';
import { CODE_INTERPRETER_ID } from '../code-interpreter/code-interpreter.assistant';
import { lastUserText } from '../prompt';
import { AppError } from '@switchboard/common';
import type { Principal } from '@switchboard/auth';
import {
  FilesService,
  formatLocation,
  type ExternalDocument,
  type FileRecord,
} from '@switchboard/datasources';
import {
  estimatePromptTokens,
  estimateTextTokens,
  type ChatEvent,
  type ChatMessage,
  type ServedModel,
} from '@switchboard/llm';
import {
  ContextBuilder,
  DataSourceResolver,
  RetrievalService,
  toSourcesState,
} from '@switchboard/rag';

/** tokens kept free besides prompt and answer (tokenizer differences, delimiters) */
const MARGIN_TOKENS = 512;
/** questions that need every part of the documents, not the best-matching chunks */
const WHOLE_DOCUMENT_TASK =
  /\b(summari[sz]e|summary|overview|compare|comparison|contrast|extract|list (all|every)|all of the|each of the|whole|entire|throughout)\b/i;

export interface PreparedContext {
  messages: ChatMessage[];
  /** whole texts handed to the assistant (map-reduce over large documents) */
  documents: Array<{ fileId: string; name: string; text: string }>;
  /** status and state events to stream before the answer */
  events: ChatEvent[];
}

export interface ContextRequest {
  principal: Principal;
  model: ServedModel;
  messages: ChatMessage[];
  maxTokens?: number;
  refs: string[];
  ragOnly?: boolean;
  skipRag?: boolean;
  /** an explicit assistant choice; map-reduce always gets whole documents */
  assistantId?: string;
  /** aborts external source fetches when the client leaves */
  signal?: AbortSignal;
}

/** Tag of files produced on the user's behalf (code interpreter output). */
export const GENERATED_FILE_TAG = 'generated';

/**
 * Turns a request's datasources into model context: the documents whole when they
 * fit the budget (window - prompt - max output - margin), otherwise the top chunks
 * for the user's question, or, for whole-document tasks too large for the window,
 * the full texts for a map-reduce assistant. Everything is read under the
 * caller's visibility; inaccessible references become a warning that reveals
 * nothing about them.
 */
@Injectable()
export class ChatContextService {
  constructor(
    @Optional() private readonly resolver?: DataSourceResolver,
    @Optional() private readonly builder?: ContextBuilder,
    @Optional() private readonly retrieval?: RetrievalService,
    @Optional() private readonly files?: FilesService,
  ) {}

  get enabled(): boolean {
    return Boolean(this.resolver && this.builder && this.files);
  }

  async prepare(req: ContextRequest): Promise<PreparedContext> {
    const none: PreparedContext = { messages: req.messages, documents: [], events: [] };
    if (req.refs.length === 0) return none;
    const events: ChatEvent[] = [];
    if (!this.enabled) {
      events.push({
        type: 'status',
        id: 'datasources',
        message: 'Documents are not available on this server.',
        inProgress: false,
        warning: true,
      });
      return { ...none, events };
    }
    const question = lastUserText(req.messages);
    const { files, external, warnings } = await this.resolver!.resolve(req.principal, req.refs, {
      query: question,
      signal: req.signal,
    });
    for (const w of warnings)
      events.push({
        type: 'status',
        id: `datasource:${w.ref}`.slice(0, 200),
        message: w.message,
        inProgress: false,
        warning: true,
      });
    if (files.length === 0 && external.length === 0) return { ...none, events };

    const budget =
      req.model.contextWindow -
      estimatePromptTokens(req.messages) -
      (req.maxTokens ?? Math.min(req.model.maxOutputTokens, 4096)) -
      MARGIN_TOKENS;

    // these assistants take the documents themselves: map-reduce splits them, the
    // code interpreter puts the files in its sandbox
    const assistantTakesWhole =
      req.assistantId === 'map-reduce' || (req.assistantId === CODE_INTERPRETER_ID && !req.ragOnly);
    const wantsWhole =
      assistantTakesWhole ||
      (!req.ragOnly && !req.assistantId && WHOLE_DOCUMENT_TASK.test(question));
    if (wantsWhole && !req.skipRag) {
      const texts = await this.#wholeTexts(req.principal, files, external);
      const total = texts.reduce((n, d) => n + estimateTextTokens(d.text), 0);
      if (total > budget || assistantTakesWhole) {
        events.push({
          type: 'status',
          id: 'datasources',
          message: `Reading ${texts.length} document(s) in full`,
          inProgress: false,
        });
        return { messages: req.messages, documents: texts, events };
      }
    }
    return this.#retrieved(req, question, files, external, budget, events);
  }

  /** The files' extracted texts and the external sources' segments, whole. */
  async #wholeTexts(
    principal: Principal,
    files: Array<Pick<FileRecord, 'id' | 'name'>>,
    external: ExternalDocument[],
  ): Promise<Array<{ fileId: string; name: string; text: string }>> {
    return [
      ...(await this.texts(principal, files)),
      ...external.map((d) => ({
        fileId: `source://${d.sourceName}`,
        name: d.sourceName,
        text: d.segments.map((x) => x.text).join('\n\n'),
      })),
    ];
  }

  /** Retrieval (or the documents cut to fit) as a system message before the conversation. */
  async #retrieved(
    req: ContextRequest,
    question: string,
    files: FileRecord[],
    external: ExternalDocument[],
    budget: number,
    events: ChatEvent[],
  ): Promise<PreparedContext> {
    const none: PreparedContext = { messages: req.messages, documents: [], events };
    const built = await this.builder!.build({
      principal: req.principal,
      files,
      question,
      budgetTokens: Math.max(0, budget),
      ragOnly: req.ragOnly,
      skipRag: req.skipRag,
      external,
    });
    if (built.mode === 'none') return none;
    events.push({
      type: 'status',
      id: 'datasources',
      message:
        built.mode === 'retrieval'
          ? `Retrieved ${built.sources.length} passage(s) from ${files.length + external.length} document(s)`
          : `Using ${files.length + external.length} document(s)${built.truncated ? ' (cut to fit)' : ''}`,
      inProgress: false,
    });
    events.push({
      type: 'state',
      state: toSourcesState(built.sources) as unknown as Record<string, unknown>,
    });
    const system: ChatMessage = { role: 'system', content: built.systemText };
    const firstNonSystem = req.messages.findIndex((m) => m.role !== 'system');
    const at = firstNonSystem < 0 ? req.messages.length : firstNonSystem;
    return {
      messages: [...req.messages.slice(0, at), system, ...req.messages.slice(at)],
      documents: [],
      events,
    };
  }

  /** full extracted texts of visible, ingested files */
  async texts(principal: Principal, files: Array<Pick<FileRecord, 'id' | 'name'>>) {
    if (!this.files || files.length === 0) return [];
    const byId = await this.files.readableTexts(
      principal,
      files.map((f) => f.id),
    );
    return files.flatMap((f) => {
      const segments = byId.get(f.id);
      return segments
        ? [{ fileId: f.id, name: f.name, text: segments.map((s) => s.text).join('\n\n') }]
        : [];
    });
  }

  /** what assistants (agent tools, user-defined assistants) may read: the caller's files only */
  documentAccess(principal: Principal): DocumentAccess {
    return {
      search: async (query, opts = {}) => {
        if (!this.retrieval) return [];
        const hits = await this.retrieval.search(principal, query, {
          fileIds: opts.fileIds,
          tags: opts.tags,
          k: opts.k,
        });
        return hits.map((h) => ({
          fileId: h.fileId,
          name: h.fileName,
          location: formatLocation(h.location),
          score: h.score,
          text: h.text,
        }));
      },
      read: async (fileId, opts = {}) => {
        const file = this.files ? await this.files.get(principal, fileId) : undefined;
        const [doc] = file ? await this.texts(principal, [file]) : [];
        if (!file || !doc) throw new Error('document not found or not ready');
        const offset = Math.max(0, opts.offset ?? 0);
        const length = Math.min(Math.max(1, opts.length ?? 8000), 50_000);
        return {
          name: file.name,
          text: doc.text.slice(offset, offset + length),
          totalChars: doc.text.length,
        };
      },
      list: async () => {
        if (!this.files) return [];
        const files = await this.files.list(principal, { limit: 200 });
        return files.map((f) => ({ fileId: f.id, name: f.name, tags: f.tags, status: f.status }));
      },
      content: async (fileId, maxBytes) => {
        if (!this.files) throw new AppError('not_found', 'File not found.');
        const { file, body } = await this.files.openContent(principal, fileId);
        if (file.size > maxBytes) {
          body.destroy();
          throw new AppError('payload_too_large', `${file.name} is larger than ${maxBytes} bytes.`);
        }
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(chunk as Buffer);
        return { name: file.name, mime: file.mime, data: Buffer.concat(chunks) };
      },
    };
  }

  /**
   * Where files a hosted tool (code interpreter) produced are kept: files of
   * the principal, tagged `generated`, ingested for search when they are text.
   */
  artifactStore(principal: Principal): ArtifactStore | undefined {
    const files = this.files;
    if (!files) return undefined;
    return {
      save: async (a) => {
        const f = await files.saveGenerated(principal, {
          name: a.name,
          data: a.data,
          tags: [GENERATED_FILE_TAG],
        });
        return { fileId: f.id, name: f.name, mime: f.mime, size: f.size };
      },
    };
  }
}
