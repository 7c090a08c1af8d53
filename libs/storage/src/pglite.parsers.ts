import { INT8_OID, parseInt8 } from './int8';

/**
 * How the embedded database's values become JS values, the same as with the
 * `pg` adapter: int8 a number when exact (else the decimal string), bytea a
 * Buffer, json objects, dates `Date`s. The functions are defined here rather
 * than taken from PGlite's defaults so that every object is created in the
 * caller's realm (under Jest PGlite lives outside the test sandbox, where
 * `instanceof Date` would fail).
 */
export const PGLITE_PARSERS: Readonly<Record<number, (text: string) => unknown>> = {
  [INT8_OID]: parseInt8,
  17: (t) => Buffer.from(t.startsWith('\\x') ? t.slice(2) : t, 'hex'),
  114: (t) => JSON.parse(t) as unknown,
  700: Number,
  701: Number,
  3802: (t) => JSON.parse(t) as unknown,
  1082: (t) => new Date(t),
  1114: (t) => new Date(t),
  1184: (t) => new Date(t),
};
