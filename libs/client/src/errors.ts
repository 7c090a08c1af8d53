import type { ApiErrorBody } from './types';

/** A non-2xx answer of the API, with the gateway's stable error code. */
export class SwitchboardApiError extends Error {
  readonly code: string;
  readonly requestId: string | undefined;
  readonly param: string | undefined;
  readonly details: Array<{ path: string; message: string }>;

  constructor(
    readonly status: number,
    readonly body: ApiErrorBody['error'],
    /** Retry-After in seconds, when the gateway sent it */
    readonly retryAfterSeconds?: number,
  ) {
    super(body.message);
    this.name = 'SwitchboardApiError';
    this.code = body.code;
    this.requestId = body.requestId;
    this.param = body.param;
    this.details = body.details ?? [];
  }
}

/** The error body of a response, or a generic one when it is not the gateway's JSON. */
export async function toApiError(res: Response): Promise<SwitchboardApiError> {
  let body: ApiErrorBody['error'] | undefined;
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text) as Partial<ApiErrorBody>;
    if (j.error && typeof j.error.code === 'string') body = j.error;
  } catch {
    /* not JSON: fall through */
  }
  const retry = Number(res.headers.get('retry-after'));
  return new SwitchboardApiError(
    res.status,
    body ?? {
      code: res.status === 0 ? 'network_error' : `http_${res.status}`,
      message: text.slice(0, 200) || res.statusText || `HTTP ${res.status}`,
      requestId: res.headers.get('x-request-id') ?? undefined,
    },
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}
