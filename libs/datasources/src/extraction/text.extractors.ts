import { parse as parseCsv } from 'csv-parse/sync';
import { ExtractionError, type TextSegment } from './extraction.types';

/** plain text: one segment */
export function textToSegments(text: string): TextSegment[] {
  const t = text.replace(/\r\n?/g, '\n').trim();
  return t ? [{ text: t, location: {} }] : [];
}

/** Markdown: one segment per ATX heading section (headings inside code fences do not count) */
export function markdownToSegments(md: string): TextSegment[] {
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  const segments: TextSegment[] = [];
  let heading: string | undefined;
  let buf: string[] = [];
  let fence: string | undefined;
  const flush = () => {
    const text = buf.join('\n').trim();
    if (text) segments.push({ text, location: heading ? { heading } : {} });
    buf = [];
  };
  for (const line of lines) {
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === undefined) fence = f[1][0];
      else if (f[1][0] === fence) fence = undefined;
    }
    const h = fence === undefined ? /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line) : null;
    if (h) {
      flush();
      heading = h[1].trim() || heading;
    }
    buf.push(line);
  }
  flush();
  return segments;
}

/** characters one CSV/TSV record may hold */
export const MAX_RECORD_CHARS = 1_000_000;

/**
 * CSV/TSV: one segment per record, rendered `header: value; ...` so each row
 * reads on its own, located by its line number (the header is row 1).
 */
export function delimitedToSegments(text: string, delimiter: ',' | '\t'): TextSegment[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parseCsv(text.replace(/^\uFEFF/, ''), {
      delimiter,
      info: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      bom: true,
      // a record longer than this is no table row (a single-line dump): stop reading at once
      max_record_size: MAX_RECORD_CHARS,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (err) {
    if ((err as { code?: string }).code === 'CSV_MAX_RECORD_SIZE')
      throw new ExtractionError(
        'too_large',
        `The ${delimiter === ',' ? 'CSV' : 'TSV'} file has a record longer than ${MAX_RECORD_CHARS} characters.`,
        { cause: err },
      );
    throw new ExtractionError(
      'corrupt',
      `The ${delimiter === ',' ? 'CSV' : 'TSV'} file could not be parsed: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (records.length === 0) return [];
  const header = records[0].record.map((h, i) => h.trim() || `column ${i + 1}`);
  const segments: TextSegment[] = [];
  for (const { record, info } of records.slice(1)) {
    const cells = record
      .map((v, i) => [header[i] ?? `column ${i + 1}`, v.trim()] as const)
      .filter(([, v]) => v !== '');
    if (cells.length === 0) continue;
    segments.push({
      text: cells.map(([h, v]) => `${h}: ${v}`).join('; '),
      location: { row: info.lines },
    });
  }
  if (segments.length === 0 && header.length > 0)
    segments.push({ text: header.join('; '), location: { row: 1 } });
  return segments;
}

/** JSON: validated, then pretty-printed so keys and values read as text */
export function jsonToSegments(text: string): TextSegment[] {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ExtractionError(
      'corrupt',
      `The JSON file is not valid JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return textToSegments(JSON.stringify(value, null, 2));
}
