import { AppError } from '@switchboard/common';
import type { CatalogueModel, ChatEvent, HostedTool } from '@switchboard/llm';
import {
  type Observable,
  type OperatorFunction,
  catchError,
  concatMap,
  defer,
  from,
  map,
  of,
} from 'rxjs';
import { emit, statusEvent } from '../assistant-events';
import type { Assistant, AssistantRunContext, SavedArtifact } from '../assistant.port';
import type { AssistantDeps } from '../assistants.config';
import { planAnswer, runAnswer, type PlanContext, type PlannedCall } from '../default.assistant';

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
    return withCodeSessions(
      planAnswer(this.deps, ctx, { modelId: ctx.modelId, documents: ctx.documents }),
      ctx.modelId,
    );
  }

  run(ctx: AssistantRunContext): Observable<ChatEvent> {
    return runAnswer(this.deps, withCodeInterpreter(ctx), {
      modelId: ctx.modelId,
      documents: ctx.documents,
    }).pipe(storeArtifacts(ctx));
  }
}
