/**
 * Messages between the gateway and the embedded database's own process
 * (`pglite.host.ts`), over Node's IPC channel with `serialization: 'advanced'`.
 * Every request carries an `id`; the host answers each with the same `id`.
 */
export type HostRequest =
  /** `template`: a `dumpDataDir()` tarball that seeds a data directory without a database (tests) */
  | { t: 'open'; id: number; dataDir: string; template?: string; lockWaitMs: number }
  | { t: 'query'; id: number; sql: string; params?: unknown[]; tx?: number }
  /** opens a transaction; the answer comes once it holds the database, and its `id` names it */
  | { t: 'begin'; id: number }
  | { t: 'end'; id: number; tx: number; commit: boolean }
  | { t: 'listen'; id: number; channel: string }
  | { t: 'unlisten'; id: number; listen: number }
  | { t: 'close'; id: number };

/** a database error's fields, as the `pg` driver names them */
export interface HostError {
  message: string;
  code?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
}

export type HostReply =
  | { id: number; ok: true; hasVector?: boolean; result?: string }
  | { id: number; ok: false; error: HostError }
  /** a NOTIFY on the channel of the `listen` request with this id */
  | { id: number; notify: string };

/**
 * A query's answer, JSON-encoded by the host (`result` above) so that the
 * receiving side builds every object in its own realm. `raw` lists the columns
 * sent as the server's text because their value does not survive JSON
 * (int8, floats, bytea, dates, and arrays of them): the gateway parses those.
 */
export interface HostResult {
  rows: Array<Record<string, unknown>>;
  rowCount: number;
  raw: Array<[column: string, oid: number]>;
}

/** element type of each array type whose elements are sent raw */
export const RAW_ARRAY_ELEMENT: Readonly<Record<number, number>> = {
  1001: 17, // bytea[]
  1016: 20, // int8[]
  1021: 700, // float4[]
  1022: 701, // float8[]
  1115: 1114, // timestamp[]
  1182: 1082, // date[]
  1185: 1184, // timestamptz[]
};

/** scalar types sent as the server's text */
export const RAW_SCALARS: readonly number[] = [17, 20, 700, 701, 1082, 1114, 1184];
