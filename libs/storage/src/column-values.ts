/**
 * Column values as the two database adapters may return them: a timestamp as a
 * Date or an ISO string, json/jsonb parsed or as text.
 */

export function toDate(v: Date | string | null): Date | null {
  if (v === null) return null;
  return v instanceof Date ? v : new Date(v);
}

export function parseJson<T>(v: T | string | null): T | null {
  if (v === null) return null;
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}
