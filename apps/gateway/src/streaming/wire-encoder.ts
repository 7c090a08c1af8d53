import type { PipelineEvent } from '../chat/chat-run.types';

/** Turns pipeline events into the `data:` payloads of one endpoint's wire format. */
export interface WireEncoder {
  encode(ev: PipelineEvent): string[];
  /** payloads written after the end (e.g. OpenAI's `[DONE]`) */
  readonly trailer: string[];
}
