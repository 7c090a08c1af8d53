/**
 * A deterministic value that satisfies a JSON Schema, for simulated models that
 * must call a tool with valid arguments or answer in a `json_schema` format.
 *
 * Covers what tool and response schemas use in practice: `type` (one or a list),
 * `enum`, `const`, `default`, `properties`/`required`/`additionalProperties`,
 * `minProperties`, `items`/`prefixItems`/`minItems`/`maxItems`/`uniqueItems`,
 * string lengths and common `format`s, numeric bounds (inclusive, exclusive,
 * `multipleOf`), `anyOf`/`oneOf`/`allOf`, `nullable`, and local `$ref`s into
 * `$defs`/`definitions`. A `pattern` is honoured only when a candidate happens to
 * match; an unsatisfiable schema yields `null`.
 */

type Schema = Record<string, unknown>;

const FORMATS: Record<string, string> = {
  'date-time': '2025-01-01T00:00:00Z',
  date: '2025-01-01',
  time: '00:00:00Z',
  email: 'user@example.com',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
};

const MAX_DEPTH = 24;
/** below this depth optional properties and one array element are shown */
const SHOW_DEPTH = 4;

const isSchema = (v: unknown): v is Schema =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function generateFromSchema(schema: unknown): unknown {
  return new Generator(isSchema(schema) ? schema : {}).value(schema, '', 0);
}

class Generator {
  constructor(private readonly root: Schema) {}

  #resolve(s: Schema): Schema {
    let cur = s;
    for (let i = 0; i < 16 && typeof cur.$ref === 'string'; i++) {
      const ref = cur.$ref;
      if (!ref.startsWith('#')) return {};
      let target: unknown = this.root;
      for (const raw of ref.slice(1).split('/').filter(Boolean)) {
        const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        target = isSchema(target) ? target[key] : undefined;
      }
      const { $ref: _ignored, ...rest } = cur;
      cur = { ...(isSchema(target) ? target : {}), ...rest };
    }
    return cur;
  }

  value(raw: unknown, name: string, depth: number): unknown {
    if (raw === true || raw === undefined) return name ? `${name}` : 'value';
    if (!isSchema(raw)) return null;
    const s = this.#resolve(raw);
    if ('const' in s) return s.const;
    if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
    if ('default' in s && s.default !== undefined) return s.default;
    if (Array.isArray(s.allOf) && s.allOf.length) return this.value(mergeAll(s), name, depth);
    const alternatives: unknown = s.anyOf ?? s.oneOf;
    if (Array.isArray(alternatives) && alternatives.length) {
      const options = alternatives as unknown[];
      // the first alternative that is not just `null`, so the value carries data
      const pick: unknown = options.find((a) => !(isSchema(a) && a.type === 'null')) ?? options[0];
      const { anyOf: _a, oneOf: _o, ...rest } = s;
      return this.value(isSchema(pick) ? { ...rest, ...pick } : pick, name, depth);
    }
    const type = pickType(s);
    if (depth >= MAX_DEPTH) return type === 'null' || s.nullable === true ? null : emptyOf(type);
    switch (type) {
      case 'object':
        return this.#object(s, depth);
      case 'array':
        return this.#array(s, name, depth);
      case 'string':
        return stringValue(s, name);
      case 'integer':
        return numberValue(s, true);
      case 'number':
        return numberValue(s, false);
      case 'boolean':
        return true;
      case 'null':
        return null;
    }
  }

  #object(s: Schema, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const props = isSchema(s.properties) ? s.properties : {};
    const required = Array.isArray(s.required) ? (s.required as unknown[]) : [];
    // every declared property (strict schemas require them all) near the top, then
    // only required ones (recursive schemas end), then extras up to minProperties
    for (const [key, sub] of Object.entries(props))
      if (depth < SHOW_DEPTH || required.includes(key)) out[key] = this.value(sub, key, depth + 1);
    const extra = isSchema(s.additionalProperties) ? s.additionalProperties : {};
    for (const key of required)
      if (typeof key === 'string' && !(key in out)) out[key] = this.value(extra, key, depth + 1);
    const min = typeof s.minProperties === 'number' ? s.minProperties : 0;
    for (let i = 0; Object.keys(out).length < min && s.additionalProperties !== false; i++) {
      const key = `key${i}`;
      if (!(key in out)) out[key] = this.value(extra, key, depth + 1);
    }
    return out;
  }

  #array(s: Schema, name: string, depth: number): unknown[] {
    const prefix = Array.isArray(s.prefixItems) ? (s.prefixItems as unknown[]) : [];
    const min = Math.max(typeof s.minItems === 'number' ? s.minItems : 0, prefix.length);
    const max = typeof s.maxItems === 'number' ? s.maxItems : Infinity;
    // one element shows the shape; deeper down only what is required (recursive schemas end)
    const n = Math.min(Math.max(min, depth < SHOW_DEPTH ? 1 : 0), max);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const sub = i < prefix.length ? prefix[i] : s.items;
      let v = this.value(sub, name, depth + 1);
      // uniqueItems: vary scalars by position
      if (s.uniqueItems === true && i > 0) v = varied(v, isSchema(sub) ? sub : {}, i);
      out.push(v);
    }
    return out;
  }
}

function mergeAll(s: Schema): Schema {
  const { allOf, ...rest } = s;
  let merged: Schema = { ...rest };
  for (const part of allOf as unknown[]) {
    if (!isSchema(part)) continue;
    merged = {
      ...merged,
      ...part,
      properties: { ...(merged.properties as Schema), ...(part.properties as Schema) },
      required: [
        ...((merged.required as unknown[]) ?? []),
        ...((part.required as unknown[]) ?? []),
      ],
    };
  }
  return merged;
}

function pickType(s: Schema): string {
  const t = s.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t) && t.length) return (t.find((x) => x !== 'null') ?? t[0]) as string;
  if (isSchema(s.properties) || s.required !== undefined || s.additionalProperties !== undefined)
    return 'object';
  if (s.items !== undefined || s.prefixItems !== undefined) return 'array';
  if (typeof s.minimum === 'number' || typeof s.maximum === 'number') return 'number';
  return 'string';
}

function emptyOf(type: string): unknown {
  if (type === 'object') return {};
  if (type === 'array') return [];
  if (type === 'string') return '';
  if (type === 'integer' || type === 'number') return 0;
  if (type === 'boolean') return false;
  return null;
}

function stringValue(s: Schema, name: string): string {
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  const max = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
  const format = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
  let base = format ?? (name ? `example ${name}` : 'example');
  if (typeof s.pattern === 'string') {
    try {
      const re = new RegExp(s.pattern, 'u');
      const candidates = [base, name, 'a', 'A', '0', 'abc', 'ABC', '123', 'a1', 'example'];
      base = candidates.find((c) => re.test(c) && c.length >= min && c.length <= max) ?? base;
    } catch {
      // an invalid pattern: keep the plain value
    }
  }
  if (base.length > max) base = base.slice(0, max);
  while (base.length < min) base += 'x';
  return base;
}

function numberValue(s: Schema, integer: boolean): number {
  const num = (k: string) => (typeof s[k] === 'number' ? s[k] : undefined);
  let lo = num('minimum') ?? -Infinity;
  let hi = num('maximum') ?? Infinity;
  const exLo = num('exclusiveMinimum');
  const exHi = num('exclusiveMaximum');
  const step = num('multipleOf');
  const unit = step ?? (integer ? 1 : undefined);
  if (exLo !== undefined) lo = Math.max(lo, unit ? exLo + unit : exLo + 1e-6);
  if (exHi !== undefined) hi = Math.min(hi, unit ? exHi - unit : exHi - 1e-6);
  // 1 when allowed (a natural "count"), else the smallest allowed value
  let v = lo <= 1 && 1 <= hi ? 1 : Number.isFinite(lo) ? lo : hi;
  if (!Number.isFinite(v)) v = 0;
  if (unit) {
    const k = Math.ceil(v / unit - 1e-9);
    v = k * unit;
    if (v > hi) v = Math.floor(hi / unit + 1e-9) * unit;
    if (integer && !Number.isInteger(v)) v = Math.ceil(v);
  } else if (integer) v = Math.ceil(v);
  return v;
}

function varied(v: unknown, s: Schema, i: number): unknown {
  if (typeof v === 'string') {
    const max = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
    const out = `${v}${i}`;
    return out.length <= max ? out : `${v.slice(0, Math.max(0, max - String(i).length))}${i}`;
  }
  if (typeof v === 'number') {
    const step = typeof s.multipleOf === 'number' ? s.multipleOf : 1;
    return v + i * step;
  }
  return v;
}
