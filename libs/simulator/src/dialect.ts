import type { SimReply } from './reply.planner';

/** Bytes for the wire: SSE text or binary event-stream frames. */
export type WireChunk = string | Uint8Array;

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type SimErrorKind = 'rate_limit' | 'server' | 'bad_request' | 'unauthorized' | 'not_found';

/** Encodes one streamed reply; created per request, so it may keep state (ids, timing). */
export interface StreamEncoder {
  /** Sent together with the first piece (role chunk, messageStart...). */
  open(): WireChunk;
  piece(index: number): WireChunk;
  /** Finish reason, usage, terminator. */
  close(): WireChunk;
}

/** How one provider protocol frames a chat reply and its errors. */
export interface ChatDialect {
  readonly streamHeaders: Record<string, string>;
  /** Extra headers of a non-streaming answer (request ids). */
  readonly responseHeaders?: Record<string, string>;
  encoder(reply: SimReply): StreamEncoder;
  /** Non-streaming response body. */
  body(reply: SimReply, latencyMs: number): unknown;
  error(kind: SimErrorKind, message?: string): ErrorReply;
}
