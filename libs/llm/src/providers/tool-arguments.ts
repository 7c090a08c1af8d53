import { AppError } from '@switchboard/common';

/**
 * The JSON object of an earlier tool call's arguments, for providers that take
 * arguments as objects (Bedrock Converse, Gemini): empty means `{}`, anything
 * but a JSON object is the caller's error.
 */
export function toolArgumentsObject(args: string, name: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new AppError(
    'invalid_request',
    `The arguments of the earlier call to tool "${name}" are not a JSON object.`,
    {
      param: 'messages',
    },
  );
}
