/**
 * Deterministic embeddings: a normalised bag of hashed words, plus a small
 * component keyed by the whole text. Texts sharing a word therefore have
 * cosine similarity > 0 (useful for RAG tests), identical texts get identical
 * vectors, and different texts with the same words still differ slightly.
 */

const WHOLE_TEXT_WEIGHT = 0.25;
export const MAX_DIMENSIONS = 8192;

export function embedText(text: string, dimensions: number): Float32Array {
  const dims = Math.min(Math.max(1, Math.floor(dimensions)), MAX_DIMENSIONS);
  const v = new Float64Array(dims);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  for (const word of words) v[fnv1a(word) % dims] += 1;
  v[fnv1a(`\u0000${text}`) % dims] += words.length > 0 ? WHOLE_TEXT_WEIGHT : 1;

  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  const out = new Float32Array(dims);
  for (let i = 0; i < dims; i++) out[i] = v[i] / norm;
  return out;
}

/** The little-endian float32 base64 form OpenAI returns for `encoding_format: 'base64'`. */
export function toBase64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

/** Input tokens of an embedding request: ceil(characters / 4), at least 1 per input. */
export function embeddingTokens(texts: readonly string[]): number {
  let total = 0;
  for (const t of texts) total += Math.max(1, Math.ceil(t.length / 4));
  return total;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
