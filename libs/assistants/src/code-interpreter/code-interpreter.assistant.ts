import { AppError } from '@switchboard/common';
import type {
  Artifact,
  CatalogueModel,
  ChatEvent,
  ChatMessage,
  HostedTool,
} from '@switchboard/llm';
import {
  type Observable,
  type OperatorFunction,
  catchError,
  concat,
  concatMap,
  defer,
  from,
  map,
  mergeMap,
  of,
} from 'rxjs';
import { emit, statusEvent } from '../assistant-events';
import type { Assistant, AssistantRunContext, SavedArtifact } from '../assistant.port';
import {
  answerTokens,
  type AssistantDeps,
  type ResolvedAssistantsConfig,
} from '../assistants.config';
import { documentTokens } from '../map-reduce/document-buckets';
import {
  holdCap,
  planAnswer,
  runAnswer,
  type PlanContext,
  type PlannedCall,
} from '../default.assistant';

export const CODE_INTERPRETER_ID = 'code-interpreter';
export const CODE_INTERPRETER: HostedTool = { type: 'code_interpreter' };

/** Models whose provider runs code for them (catalogue capability `code_interpreter`). */
export function requireCodeInterpreter(model: CatalogueModel): void {
  if (!model.capabilities.includes('code_interpreter'))
    throw new AppError(
      'unsupported_capability',
      `The model "${model.id}" does not offer hosted code execution.`,
      { param: 'model' },
    );
}

/** Every call of `answerModelId` opens a code-interpreter container: the hold covers one each. */
export function withCodeSessions(calls: PlannedCall[], answerModelId: string): PlannedCall[] {
  return calls.map((c) => (c.modelId === answerModelId ? { ...c, codeInterpreterSessions: 1 } : c));
}

/** Providers whose code sandbox takes the user's files (OpenAI's containers); Gemini gets text. */
export function sandboxTakesFiles(model: CatalogueModel): boolean {
  return model.provider === 'openai' || model.provider === 'azure-openai';
}

export const SANDBOX_STATUS_ID = 'sandbox-files';

/** `report.csv`, `report-2.csv`…: files in one directory need distinct names. */
function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  const dot = name.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 2; taken.has(candidate); n++) candidate = `${base}-${n}${ext}`;
  taken.add(candidate);
  return candidate;
}

/**
 * The documents' original files for the sandbox, within the per-file and
 * per-request limits; a document whose file cannot go (too large, over the
 * count, gone) is given to the model as text instead, and a status says so.
 */
export async function sandboxFiles(
  ctx: AssistantRunContext,
  config: ResolvedAssistantsConfig,
): Promise<{ files: Artifact[]; asText: AssistantRunContext['documents']; events: ChatEvent[] }> {
  const files: Artifact[] = [];
  const asText: AssistantRunContext['documents'] = [];
  const refused: string[] = [];
  const taken = new Set<string>();
  let total = 0;
  for (const doc of ctx.documents) {
    if (files.length >= config.sandboxMaxFiles) {
      asText.push(doc);
      refused.push(`${doc.name} (more than ${config.sandboxMaxFiles} files)`);
      continue;
    }
    try {
      const c = await ctx.docs.content(doc.fileId, config.sandboxMaxFileBytes);
      if (total + c.data.byteLength > config.sandboxMaxTotalBytes)
        throw new AppError(
          'payload_too_large',
          `the files exceed ${config.sandboxMaxTotalBytes} bytes together`,
        );
      total += c.data.byteLength;
      files.push({ name: uniqueName(c.name, taken), data: c.data });
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      asText.push(doc);
      refused.push(`${doc.name} (${e instanceof AppError ? e.message : 'not readable'})`);
    }
  }
  const events: ChatEvent[] = [];
  if (files.length)
    events.push(
      statusEvent(SANDBOX_STATUS_ID, `put ${files.length} file(s) in the code sandbox`, false, {
        files: files.map((f) => f.name),
      }),
    );
  if (refused.length)
    events.push(
      statusEvent(
        `${SANDBOX_STATUS_ID}-text`,
        `given as text instead of files: ${refused.join(', ')}`,
        false,
        { warning: true },
      ),
    );
  return { files, asText, events };
}

/** Tells the model where the files are, so it reads them with code. */
function sandboxNote(files: Artifact[]): ChatMessage {
  return {
    role: 'system',
    content:
      `The user's files are in /mnt/data: ${files.map((f) => f.name).join(', ')}. ` +
      'Read them with code; they are the documents the user refers to.',
  };
}

/** The run context with hosted code execution added to every answer call. */
export function withCodeInterpreter(ctx: AssistantRunContext): AssistantRunContext {
  const hosted = ctx.params.hostedTools ?? [];
  return {
    ...ctx,
    params: { ...ctx.params, hostedTools: [...hosted, CODE_INTERPRETER] },
  };
}

/**
 * Stores every `artifact` event as a file of the principal, in arrival order,
 * and reports each with a status (`saved chart.png` / `could not save …`) and
 * a `state` event listing every file stored so far (`generatedFiles`).
 * Other events pass through untouched.
 */
export function storeArtifacts(ctx: AssistantRunContext): OperatorFunction<ChatEvent, ChatEvent> {
  const saved: SavedArtifact[] = [];
  let n = 0;
  return concatMap((e): Observable<ChatEvent> => {
    if (e.type !== 'artifact') return of(e);
    const id = `artifact-${++n}`;
    const { name } = e.artifact;
    const store = ctx.artifacts;
    if (!store)
      return emit(
        statusEvent(id, `could not save ${name}: file storage is not available`, false, {
          ok: false,
        }),
      );
    return defer(() => from(store.save(e.artifact))).pipe(
      map((file) => {
        saved.push(file);
        return [
          statusEvent(id, `saved ${file.name}`, false, { ok: true, fileId: file.fileId }),
          { type: 'state', state: { generatedFiles: [...saved] } } satisfies ChatEvent,
        ];
      }),
      catchError((err: unknown) => {
        if (ctx.signal.aborted) return of<ChatEvent[]>([]);
        const why = err instanceof AppError ? err.message : 'the file could not be stored';
        return of([statusEvent(id, `could not save ${name}: ${why}`, false, { ok: false })]);
      }),
      concatMap((events) => from(events)),
    );
  });
}

/**
 * Answers with the provider's hosted code execution: the model writes and runs
 * code in the provider's sandbox (status events show the code and its logs),
 * streams its answer, and the files the code produced are stored as the
 * user's files (`generatedFiles` state). Documents go in as for the default
 * assistant.
 */
export class CodeInterpreterAssistant implements Assistant {
  readonly id = CODE_INTERPRETER_ID;
  readonly name = 'Code interpreter';

  constructor(private readonly deps: AssistantDeps) {}

  plan(ctx: PlanContext): PlannedCall[] {
    const model = this.deps.models.resolve(ctx.modelId);
    if (!sandboxTakesFiles(model))
      return withCodeSessions(
        planAnswer(this.deps, ctx, { modelId: ctx.modelId, documents: ctx.documents }),
        ctx.modelId,
      );
    // The documents go in as files, not prompt; but one that cannot (too large,
    // over the limits) goes as text, so the hold counts them as prompt anyway,
    // up to the most a prompt can carry.
    const cap = holdCap(model.contextWindow, answerTokens(model, ctx.params.maxTokens));
    const docs = documentTokens(ctx.documents);
    return withCodeSessions(
      planAnswer(this.deps, ctx, { modelId: ctx.modelId, documents: [] }).map((c) =>
        c.modelId === model.id
          ? { ...c, promptTokens: Math.min(c.promptTokens + docs, Math.max(cap, c.promptTokens)) }
          : c,
      ),
      ctx.modelId,
    );
  }

  run(ctx: AssistantRunContext): Observable<ChatEvent> {
    return defer(() => {
      const model = this.deps.models.resolve(ctx.modelId);
      if (ctx.documents.length === 0 || !sandboxTakesFiles(model))
        return this.#answer(ctx, ctx.documents, []);
      return from(sandboxFiles(ctx, this.deps.config)).pipe(
        mergeMap(({ files, asText, events }) =>
          concat(from(events), this.#answer(ctx, asText, files)),
        ),
      );
    }).pipe(storeArtifacts(ctx));
  }

  /** One answer call with the code tool, the sandbox files and the documents left as text. */
  #answer(
    ctx: AssistantRunContext,
    documents: AssistantRunContext['documents'],
    files: Artifact[],
  ): Observable<ChatEvent> {
    const hosted = withCodeInterpreter(ctx);
    return runAnswer(
      this.deps,
      files.length ? { ...hosted, params: { ...hosted.params, hostedFiles: files } } : hosted,
      {
        modelId: ctx.modelId,
        documents,
        context: files.length ? [sandboxNote(files)] : [],
      },
    );
  }
}
