import type { AppError } from '@switchboard/common';
import type { PipelineEvent } from '@switchboard/chat';

/** An SSE frame with an `event:` line (the Responses API names every event). */
export interface NamedFrame {
  event: string;
  data: string;
}

/** Turns pipeline events into the `data:` payloads of one endpoint's wire format. */
export interface WireEncoder {
  encode(ev: PipelineEvent): Array<string | NamedFrame>;
  /** payloads written after the end (e.g. OpenAI's `[DONE]`) */
  readonly trailer: string[];
  /**
   * Work that must finish before the end event's frames leave (e.g. storing the
   * response a client may chain to as soon as it sees the end).
   */
  settle?(): Promise<void>;
  /** told of an error answered with an HTTP status before any frame was written */
  rejected?(error: AppError): void;
}
