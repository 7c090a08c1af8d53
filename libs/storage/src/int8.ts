/**
 * Both adapters return `bigint`/`int8` columns the same way: a JS number when it
 * is exactly representable, otherwise the decimal string (never a silent loss of
 * precision, never a BigInt that JSON.stringify rejects). Counts and micro-dollar
 * sums stay far below 2^53 in practice.
 */
export function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

export const INT8_OID = 20;
