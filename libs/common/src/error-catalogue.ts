/**
 * One catalogue of error codes. Each code has an HTTP status and a client-safe
 * message; the same mapping serves JSON responses and SSE error frames.
 */
export const ERROR_CATALOGUE = {
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  invalid_request: { status: 400, message: 'The request is invalid.' },
  unsupported_parameter: { status: 400, message: 'A parameter is not supported by this model.' },
  unsupported_capability: {
    status: 400,
    message: 'This model does not support the requested capability.',
  },
  context_length_exceeded: {
    status: 400,
    message: "The request does not fit the model's context window.",
  },
  unauthorized: { status: 401, message: 'Missing or invalid credentials.' },
  invalid_api_key: { status: 401, message: 'The API key is invalid.' },
  api_key_revoked: { status: 401, message: 'The API key has been revoked.' },
  api_key_expired: { status: 401, message: 'The API key has expired.' },
  budget_exceeded: { status: 402, message: 'The budget for this period is exhausted.' },
  forbidden: { status: 403, message: 'You are not allowed to do this.' },
  insufficient_scope: {
    status: 403,
    message: 'The credentials lack the scope this endpoint needs.',
  },
  not_found: { status: 404, message: 'Not found.' },
  model_not_found: { status: 404, message: 'The model does not exist or is not available.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed on this path.' },
  duplicate_request: {
    status: 409,
    message: 'A request with this requestId is already in progress.',
  },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The content type is not supported.' },
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  internal_error: { status: 500, message: 'An internal error occurred.' },
  upstream_error: { status: 502, message: 'The model provider returned an error.' },
  upstream_rate_limited: {
    status: 429,
    message: 'The model provider is rate limiting requests; retry later.',
  },
  upstream_unavailable: { status: 503, message: 'The model provider is unavailable.' },
  upstream_timeout: { status: 504, message: 'The model provider did not answer in time.' },
  upstream_disconnected: { status: 502, message: 'The model provider closed the stream early.' },
  draining: { status: 503, message: 'This instance is shutting down; retry on another.' },
  service_unavailable: { status: 503, message: 'A dependency is unavailable; retry later.' },
  cancelled: { status: 499, message: 'The request was cancelled.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface FieldError {
  path: string;
  message: string;
}

/** A failure a client may see. Internal errors are wrapped as `internal_error`. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly extra: {
      details?: FieldError[];
      retryAfterSeconds?: number;
      param?: string;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message ?? ERROR_CATALOGUE[code].message, { cause: extra.cause });
    this.name = 'AppError';
    this.status = ERROR_CATALOGUE[code].status;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** The client-safe view of any thrown value. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  return new AppError('internal_error', undefined, { cause: e });
}

/** OpenAI-style `type` for a status, so OpenAI clients classify errors correctly. */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The JSON error body (README, "Errors"), with OpenAI's `type`/`param` so its SDK parses it. */
export function errorBody(err: AppError, requestId: string) {
  return {
    error: {
      code: err.code,
      message: err.message,
      type: errorType(err.status),
      param: err.extra.param ?? null,
      requestId,
      ...(err.extra.details ? { details: err.extra.details } : {}),
    },
  };
}
