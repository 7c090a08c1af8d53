import { SwitchboardApiError } from '@switchboard/client';

/** A sentence for a failed call; budget and rate limits say what happened and what to do. */
export function errorText(e: unknown): string {
  if (e instanceof SwitchboardApiError) {
    switch (e.code) {
      case 'budget_exceeded':
        return `Budget exhausted: ${e.message} Ask an admin to raise the budget (Admin → Budgets), or wait for the next period.`;
      case 'rate_limited':
        return `Rate limited: ${e.message}${e.retryAfterSeconds ? ` Retry in ${e.retryAfterSeconds} s.` : ''}`;
      case 'unauthorized':
      case 'invalid_api_key':
      case 'api_key_revoked':
      case 'api_key_expired':
        return `Sign-in refused: ${e.message}`;
      default:
        return e.requestId ? `${e.message} (request ${e.requestId})` : e.message;
    }
  }
  return e instanceof Error ? e.message : String(e);
}
