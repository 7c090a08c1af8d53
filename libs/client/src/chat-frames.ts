import type { SseMessage } from './sse-parser';
import type {
  ChatStreamEvent,
  EndUsage,
  GeneratedFile,
  RunStatus,
  SourceRef,
  StatusUpdate,
} from './types';

/** A frame that does not follow the `/chat` wire contract. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly frame: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const num = (v: unknown, fallback = 0): number =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

function toSources(state: Record<string, unknown>): SourceRef[] | undefined {
  const s = state.sources;
  if (!isObject(s) || !isObject(s.documents) || !Array.isArray(s.documents.sources))
    return undefined;
  return s.documents.sources.filter(isObject).map((x) => ({
    n: num(x.n),
    fileId: str(x.fileId),
    name: str(x.name),
    location: str(x.location),
    score: num(x.score),
    snippet: str(x.snippet),
  }));
}

function toGeneratedFiles(state: Record<string, unknown>): GeneratedFile[] | undefined {
  if (!Array.isArray(state.generatedFiles)) return undefined;
  return state.generatedFiles.filter(isObject).map((f) => ({
    fileId: str(f.fileId),
    name: str(f.name),
    mime: str(f.mime, 'application/octet-stream'),
    size: num(f.size),
  }));
}

function toUsage(u: unknown): EndUsage {
  const o = isObject(u) ? u : {};
  return {
    inputTokens: num(o.inputTokens),
    cachedInputTokens: num(o.cachedInputTokens),
    outputTokens: num(o.outputTokens),
    reasoningTokens: num(o.reasoningTokens),
    ...(o.codeInterpreterSessions !== undefined
      ? { codeInterpreterSessions: num(o.codeInterpreterSessions) }
      : {}),
    costMicros: num(o.costMicros),
    estimated: o.estimated === true,
  };
}

const RUN_STATUSES: readonly RunStatus[] = ['complete', 'cancelled', 'error'];

/**
 * One SSE message of a `/chat` stream as a typed event (DESIGN.md wire
 * contract). Unknown frame kinds return `undefined` so a newer gateway can add
 * frames without breaking older clients; malformed JSON throws `FrameError`.
 */
export function parseChatFrame(msg: SseMessage): ChatStreamEvent | undefined {
  if (msg.kind === 'comment') return { type: 'heartbeat' };
  let f: unknown;
  try {
    f = JSON.parse(msg.data);
  } catch {
    throw new FrameError('frame is not JSON', msg.data);
  }
  if (!isObject(f)) throw new FrameError('frame is not a JSON object', msg.data);
  switch (f.s) {
    case 'answer':
      return { type: 'answer', text: str(f.d) };
    case 'meta': {
      if (isObject(f.st)) {
        const st = f.st;
        const status: StatusUpdate = {
          ...st,
          id: str(st.id),
          message: str(st.message),
          inProgress: st.inProgress === true,
        };
        return { type: 'status', status };
      }
      if (isObject(f.state)) {
        const sources = toSources(f.state);
        const generatedFiles = toGeneratedFiles(f.state);
        return {
          type: 'state',
          state: f.state,
          ...(sources ? { sources } : {}),
          ...(generatedFiles ? { generatedFiles } : {}),
        };
      }
      return undefined;
    }
    case 'tool_call': {
      const d = isObject(f.d) ? f.d : {};
      return {
        type: 'tool_call',
        index: num(d.index),
        ...(typeof d.id === 'string' ? { id: d.id } : {}),
        ...(typeof d.name === 'string' ? { name: d.name } : {}),
        arguments: str(d.arguments),
      };
    }
    case 'error': {
      const e = isObject(f.error) ? f.error : {};
      return { type: 'error', code: str(e.code, 'internal_error'), message: str(e.message) };
    }
    case 'result': {
      if (f.type !== 'end') return undefined;
      const status = RUN_STATUSES.find((s) => s === f.status) ?? 'complete';
      return {
        type: 'end',
        usage: toUsage(f.usage),
        model: str(f.model),
        provider: str(f.provider),
        attempt: num(f.attempt, 1),
        status,
      };
    }
    default:
      return undefined;
  }
}
