import type { IncomingMessage } from 'node:http';
import { constants, Http2ServerResponse, type Http2ServerRequest } from 'node:http2';

/** What the simulator needs of a response, common to HTTP/1.1 and HTTP/2 (compat API). */
export interface SimResponse {
  readonly headersSent: boolean;
  /** True once the simulator called end(). */
  readonly writableEnded: boolean;
  writeHead(status: number, headers?: Record<string, string | number>): unknown;
  /** Present at runtime on both; missing from the HTTP/2 typings. */
  flushHeaders?(): void;
  write(chunk: string | Uint8Array, callback?: (err?: Error | null) => void): boolean;
  end(chunk?: string | Uint8Array): unknown;
  destroy(): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
}

export type SimRequest = IncomingMessage | Http2ServerRequest;

/**
 * Cuts the response the way a failing upstream does: HTTP/1.1 loses its socket;
 * HTTP/2 resets the stream with INTERNAL_ERROR (a bare destroy would reset with
 * NO_ERROR, which clients read as a clean end).
 */
export function cutResponse(res: SimResponse): void {
  if (res instanceof Http2ServerResponse) res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
}

/**
 * `attachment` with the file name: quoted ASCII for plain names, plus the
 * RFC 6266 / RFC 5987 `filename*` form for any other (Node refuses non-latin1
 * header values, and quotes or backslashes would break the quoted form).
 */
export function contentDisposition(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name) && !/["\\]/.test(name)) {
    return `attachment; filename="${name}"`;
  }
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
