import { AppError, type ErrorCode } from '@switchboard/common';

/** A provider failure, classified so retry, fallback and the circuit breaker can decide. */
export class UpstreamError extends AppError {
  constructor(
    code: Extract<
      ErrorCode,
      | 'upstream_error'
      | 'upstream_rate_limited'
      | 'upstream_unavailable'
      | 'upstream_timeout'
      | 'upstream_disconnected'
      | 'unsupported_parameter'
      | 'context_length_exceeded'
      | 'invalid_request'
    >,
    readonly detail: string,
    readonly retryable: boolean,
    readonly upstreamStatus?: number,
    retryAfterSeconds?: number,
  ) {
    super(code, undefined, { retryAfterSeconds });
    this.name = 'UpstreamError';
  }
}

export function isUpstreamError(e: unknown): e is UpstreamError {
  return e instanceof UpstreamError;
}

/** Classifies an HTTP status from any provider SDK. */
export function upstreamErrorFromStatus(
  status: number | undefined,
  detail: string,
  retryAfterSeconds?: number,
): UpstreamError {
  if (status === 429)
    return new UpstreamError('upstream_rate_limited', detail, true, status, retryAfterSeconds);
  if (status === 408) return new UpstreamError('upstream_timeout', detail, true, status);
  if (status !== undefined && status >= 500)
    return new UpstreamError(
      status === 503 ? 'upstream_unavailable' : 'upstream_error',
      detail,
      true,
      status,
    );
  if (status === 400 || status === 422)
    return new UpstreamError('invalid_request', detail, false, status);
  return new UpstreamError('upstream_error', detail, false, status);
}

/** Parses a Retry-After header (seconds or HTTP date). */
export function parseRetryAfter(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return secs;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : undefined;
}
