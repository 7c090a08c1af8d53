import type { SegmentLocation, TextSegment } from '@switchboard/datasources';
import { estimateTextTokens } from '@switchboard/llm';

export interface ChunkerOptions {
  /** upper bound of a chunk, in tokens (default 400) */
  maxTokens?: number;
  /** tokens of the previous chunk repeated at the start of the next (default 60) */
  overlapTokens?: number;
  /** token counter (default: the gateway's o200k estimate) */
  countTokens?: (text: string) => number;
}

export interface Chunk {
  /** 0-based order in the document */
  index: number;
  text: string;
  location: SegmentLocation;
  /** UTF-16 offsets of `text` in `documentText(segments)` */
  charStart: number;
  charEnd: number;
  tokens: number;
}

/** the separator between segments in the document text */
export const SEGMENT_SEPARATOR = '\n\n';

/** the text chunk offsets refer to: segments joined by a blank line */
export function documentText(segments: TextSegment[]): string {
  return segments.map((s) => s.text).join(SEGMENT_SEPARATOR);
}

interface Unit {
  start: number;
  end: number;
  tokens: number;
  segment: number;
}

const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

/**
 * Splits located text into token-bounded chunks. Boundaries prefer paragraphs,
 * then sentences; a sentence longer than the bound is cut at a word (or, at
 * worst, code point) boundary, never inside a surrogate pair. Consecutive
 * chunks overlap by up to `overlapTokens` of whole units. A chunk never spans
 * two spreadsheet sheets; when it spans pages or rows its location is a range.
 */
export function chunkSegments(segments: TextSegment[], options: ChunkerOptions = {}): Chunk[] {
  const maxTokens = Math.max(8, options.maxTokens ?? 400);
  const overlapTokens = Math.min(
    Math.max(0, options.overlapTokens ?? 60),
    Math.floor(maxTokens / 2),
  );
  const count = options.countTokens ?? estimateTextTokens;
  const doc = documentText(segments);

  const units: Unit[] = [];
  let offset = 0;
  segments.forEach((seg, si) => {
    for (const [s, e] of paragraphRanges(seg.text))
      splitRange(doc, offset + s, offset + e, si, maxTokens, count, units);
    offset += seg.text.length + SEGMENT_SEPARATOR.length;
  });

  const chunks: Chunk[] = [];
  let i = 0;
  while (i < units.length) {
    // grow [i, j) while the estimate stays within the bound and the sheet is the same
    let j = i + 1;
    let sum = units[i].tokens;
    while (
      j < units.length &&
      sameGroup(segments, units[i], units[j]) &&
      sum + units[j].tokens + 1 <= maxTokens
    ) {
      sum += units[j].tokens + 1;
      j++;
    }
    // the estimate is not additive: verify exactly, and give back units until it fits
    let text = doc.slice(units[i].start, units[j - 1].end);
    let tokens = count(text);
    while (tokens > maxTokens && j - 1 > i) {
      j--;
      text = doc.slice(units[i].start, units[j - 1].end);
      tokens = count(text);
    }
    chunks.push({
      index: chunks.length,
      text,
      location: mergeLocations(
        segments[units[i].segment].location,
        segments[units[j - 1].segment].location,
      ),
      charStart: units[i].start,
      charEnd: units[j - 1].end,
      tokens,
    });
    if (j >= units.length) break;
    // overlap: restart at trailing units of this chunk worth <= overlapTokens (always progress)
    let next = j;
    let carried = 0;
    while (
      next - 1 > i &&
      sameGroup(segments, units[next - 1], units[j]) &&
      carried + units[next - 1].tokens <= overlapTokens
    ) {
      carried += units[next - 1].tokens;
      next--;
    }
    i = next;
  }
  return chunks;
}

/** paragraphs of a segment: ranges separated by blank lines, trimmed */
function paragraphRanges(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const re = /\n[ \t]*\n\s*/g;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    pushTrimmed(text, start, m.index, out);
    start = m.index + m[0].length;
  }
  pushTrimmed(text, start, text.length, out);
  return out;
}

function pushTrimmed(text: string, s: number, e: number, out: Array<[number, number]>): void {
  while (s < e && /\s/.test(text[s])) s++;
  while (e > s && /\s/.test(text[e - 1])) e--;
  if (e > s) out.push([s, e]);
}

function splitRange(
  doc: string,
  start: number,
  end: number,
  segment: number,
  maxTokens: number,
  count: (t: string) => number,
  out: Unit[],
): void {
  const tokens = count(doc.slice(start, end));
  if (tokens <= maxTokens) {
    out.push({ start, end, tokens, segment });
    return;
  }
  // sentences of the paragraph
  const sentences: Array<[number, number]> = [];
  for (const s of sentenceSegmenter.segment(doc.slice(start, end))) {
    const ss = start + s.index;
    pushTrimmed(doc, ss, ss + s.segment.length, sentences);
  }
  if (sentences.length > 1) {
    for (const [s, e] of sentences) splitRange(doc, s, e, segment, maxTokens, count, out);
    return;
  }
  hardSplit(doc, start, end, segment, maxTokens, count, out);
}

/** cuts an over-long sentence into pieces within the bound, at spaces when possible */
function hardSplit(
  doc: string,
  start: number,
  end: number,
  segment: number,
  maxTokens: number,
  count: (t: string) => number,
  out: Unit[],
): void {
  let s = start;
  while (s < end) {
    let len = Math.min(end - s, maxTokens * 4);
    let cut = safeCut(doc, s, s + len, end);
    let tokens = count(doc.slice(s, cut));
    while (tokens > maxTokens && len > 1) {
      len = Math.max(1, Math.floor((len * maxTokens) / tokens) - 1);
      cut = safeCut(doc, s, s + len, end);
      tokens = count(doc.slice(s, cut));
    }
    out.push({ start: s, end: cut, tokens, segment });
    s = cut;
    while (s < end && /\s/.test(doc[s])) s++;
  }
}

/** a cut position <= `at` that is a code point boundary, preferring a space in the last third */
function safeCut(doc: string, start: number, at: number, end: number): number {
  if (at >= end) return end;
  const floor = start + Math.floor(((at - start) * 2) / 3);
  for (let p = at; p > floor; p--) if (/\s/.test(doc[p])) return p;
  let p = at;
  if (p > start + 1 && isLowSurrogate(doc.charCodeAt(p)) && isHighSurrogate(doc.charCodeAt(p - 1)))
    p--;
  return p > start ? p : Math.min(end, start + (isHighSurrogate(doc.charCodeAt(start)) ? 2 : 1));
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

function sameGroup(segments: TextSegment[], a: Unit, b: Unit): boolean {
  return segments[a.segment].location.sheet === segments[b.segment].location.sheet;
}

function mergeLocations(first: SegmentLocation, last: SegmentLocation): SegmentLocation {
  const loc: SegmentLocation = { ...first };
  delete loc.pageEnd;
  delete loc.rowEnd;
  const lastPage = last.pageEnd ?? last.page;
  if (loc.page !== undefined && lastPage !== undefined && lastPage > loc.page)
    loc.pageEnd = lastPage;
  const lastRow = last.rowEnd ?? last.row;
  if (loc.row !== undefined && lastRow !== undefined && lastRow > loc.row) loc.rowEnd = lastRow;
  return loc;
}
