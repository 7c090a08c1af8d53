import { AppError } from '@switchboard/common';

export type ApiKeyErrorCode = 'invalid_api_key' | 'api_key_revoked' | 'api_key_expired';

/**
 * A refused API key. The code is client-visible (401 with a distinct code);
 * the message never contains the key.
 */
export class ApiKeyError extends AppError {
  constructor(override readonly code: ApiKeyErrorCode) {
    super(code);
    this.name = 'ApiKeyError';
  }
}
