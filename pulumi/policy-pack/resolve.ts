import { UnknownValueError } from '@pulumi/policy';
import { UNKNOWN } from '../policy';

/**
 * Copies the engine's property proxy into plain values. During preview a computed value
 * (an ARN, an id, a JSON document built from them) is unknown and reading it through the
 * proxy throws, which would turn a mandatory policy into an advisory one; it becomes
 * UNKNOWN here, and the invariants neither throw on it nor report it.
 */
export function resolveUnknowns(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const read = (key: string | number): unknown => {
    try {
      return resolveUnknowns((value as Record<string | number, unknown>)[key]);
    } catch (e) {
      if (e instanceof UnknownValueError) return UNKNOWN;
      throw e;
    }
  };
  if (Array.isArray(value)) {
    // Not value.map: the engine proxy throws inside map's own element reads.
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) out.push(read(i));
    return out;
  }
  return Object.fromEntries(Object.keys(value).map((key) => [key, read(key)]));
}
