import type { AppError } from '@switchboard/common';
import type { PipelineEvent } from '../chat/chat-run.types';

/** Turns pipeline events into the `data:` payloads of one endpoint's wire format. */
export interface WireEncoder {
  encode(ev: PipelineEvent): string[];
  /** payloads written after the end (e.g. OpenAI's `[DONE]`) */
  readonly trailer: string[];
  /** told of an error answered with an HTTP status before any frame was written */
  rejected?(error: AppError): void;
}
