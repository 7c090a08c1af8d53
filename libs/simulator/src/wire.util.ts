/** A malformed request: answered with the protocol's 400 body. */
export class BadRequest extends Error {}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function intOrUndefined(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isInteger(x) ? x : undefined;
}

export function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}
