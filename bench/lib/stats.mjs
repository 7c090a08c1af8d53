/** Small numeric helpers shared by the load worker and the runner. */

/** Nearest-rank percentile of an already sorted array; NaN when empty. */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Sorts a copy (numbers, ascending) and returns the requested percentiles keyed `p50`, `p99`... */
export function summarize(values, percentiles = [50, 90, 99]) {
  const sorted = Float64Array.from(values).sort();
  const out = { n: sorted.length };
  for (const p of percentiles)
    out[`p${String(p).replace('.', '_')}`] = round(percentileSorted(sorted, p));
  out.max = sorted.length ? round(sorted[sorted.length - 1]) : Number.NaN;
  return out;
}

export function median(values) {
  return percentileSorted(Float64Array.from(values).sort(), 50);
}

/** Rounds to `digits` decimals; keeps NaN/null as null so JSON stays valid. */
export function round(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A growable Float64 buffer: streaming runs collect hundreds of thousands of gaps. */
export class Samples {
  #buf = new Float64Array(1024);
  #len = 0;

  push(v) {
    if (this.#len === this.#buf.length) {
      const next = new Float64Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.#len++] = v;
  }

  get length() {
    return this.#len;
  }

  toArray() {
    return this.#buf.subarray(0, this.#len);
  }
}
