/** A malformed request: answered with the protocol's 400 body. */
export class BadRequest extends Error {
  /** The offending parameter, where the protocol's error body names one (OpenAI `param`). */
  constructor(
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function intOrUndefined(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isInteger(x) ? x : undefined;
}

export function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}

/**
 * One message's text: its non-empty segments (text parts, tool calls, tool
 * results) joined by newlines, so a `#sim` line in its own part starts a line.
 */
export function joinSegments(segments: readonly string[]): string {
  return segments.filter((s) => s !== '').join('\n');
}
