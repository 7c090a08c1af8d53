import { estimateTextTokens } from '@switchboard/llm';
import type { PromptDocument } from '../prompt';

/** A slice of one document, small enough for one map call. */
export interface DocumentPiece extends PromptDocument {
  tokens: number;
}

/** Delimiter and attribute overhead of one piece in a prompt. */
const PIECE_OVERHEAD = 32;

function hardSplit(text: string, capacity: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    let cut = Math.min(rest.length, capacity * 3);
    while (cut > 1 && estimateTextTokens(rest.slice(0, cut)) > capacity)
      cut = Math.floor(cut * 0.8);
    // prefer to cut at a space near the end of the slice
    const space = rest.lastIndexOf(' ', cut);
    if (cut < rest.length && space > cut * 0.8) cut = space + 1;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return out;
}

/** Splits text at paragraph, then line, then word boundaries into parts of at most `capacity` tokens. */
function splitText(text: string, capacity: number): Array<{ text: string; tokens: number }> {
  const out: Array<{ text: string; tokens: number }> = [];
  let cur = '';
  let curTokens = 0;
  const flush = () => {
    if (cur.trim()) out.push({ text: cur, tokens: curTokens });
    cur = '';
    curTokens = 0;
  };
  const add = (unit: string, sep: string) => {
    const t = estimateTextTokens(unit) + 1;
    if (t > capacity) {
      flush();
      const finer = sep === '\n\n' ? unit.split('\n') : undefined;
      if (finer && finer.length > 1) for (const line of finer) add(line, '\n');
      else
        for (const part of hardSplit(unit, capacity - 1))
          out.push({ text: part, tokens: estimateTextTokens(part) });
      return;
    }
    if (curTokens + t > capacity) flush();
    cur = cur ? `${cur}${sep}${unit}` : unit;
    curTokens += t;
  };
  for (const para of text.split(/\n\s*\n/)) add(para, '\n\n');
  flush();
  return out;
}

/**
 * Packs documents into buckets of at most `capacity` tokens each (delimiters
 * included), cutting large documents into consecutive parts labelled with their
 * position, so each bucket can be read by one map call.
 */
export function bucketDocuments(docs: PromptDocument[], capacity: number): DocumentPiece[][] {
  const room = capacity - PIECE_OVERHEAD;
  const pieces: DocumentPiece[] = [];
  for (const d of docs) {
    const parts = splitText(d.text, room);
    parts.forEach((p, i) =>
      pieces.push({
        fileId: d.fileId,
        name: d.name,
        text: p.text,
        tokens: p.tokens + PIECE_OVERHEAD,
        location: parts.length > 1 ? `part ${i + 1} of ${parts.length}` : d.location,
      }),
    );
  }
  const buckets: DocumentPiece[][] = [];
  let cur: DocumentPiece[] = [];
  let used = 0;
  for (const p of pieces) {
    if (cur.length > 0 && used + p.tokens > capacity) {
      buckets.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(p);
    used += p.tokens;
  }
  if (cur.length > 0) buckets.push(cur);
  return buckets;
}

export function documentTokens(docs: PromptDocument[]): number {
  return docs.reduce((n, d) => n + estimateTextTokens(d.text) + PIECE_OVERHEAD, 0);
}
