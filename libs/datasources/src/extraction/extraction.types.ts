/** Where a piece of text sits in its document. */
export interface SegmentLocation {
  /** 1-based PDF page */
  page?: number;
  /** last page when a chunk spans pages */
  pageEnd?: number;
  /** XLSX sheet name */
  sheet?: string;
  /** 1-based row as shown by a spreadsheet program (CSV/TSV: line of the record; header = 1) */
  row?: number;
  /** last row when a chunk spans rows */
  rowEnd?: number;
  /** nearest heading above the text (DOCX, HTML, Markdown) */
  heading?: string;
}

export interface TextSegment {
  text: string;
  location: SegmentLocation;
}

export interface ExtractedDocument {
  segments: TextSegment[];
  /** PDF only */
  pages?: number;
}

export type ExtractionFailure =
  | 'encrypted'
  | 'corrupt'
  | 'empty'
  | 'unsupported'
  | 'too_large'
  /** the extraction time limit passed */
  | 'timeout';

/** An extraction that cannot succeed on retry; the file ends `failed` with `message`. */
export class ExtractionError extends Error {
  constructor(
    readonly reason: ExtractionFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExtractionError';
  }
}

/** "page 3", "pages 3–4", "sheet Sales, rows 2–9", "row 5", "Intro" */
export function formatLocation(loc: SegmentLocation): string {
  const parts: string[] = [];
  if (loc.page !== undefined)
    parts.push(
      loc.pageEnd !== undefined && loc.pageEnd !== loc.page
        ? `pages ${loc.page}–${loc.pageEnd}`
        : `page ${loc.page}`,
    );
  if (loc.sheet !== undefined) parts.push(`sheet ${loc.sheet}`);
  if (loc.row !== undefined)
    parts.push(
      loc.rowEnd !== undefined && loc.rowEnd !== loc.row
        ? `rows ${loc.row}–${loc.rowEnd}`
        : `row ${loc.row}`,
    );
  if (loc.heading) parts.push(`“${loc.heading}”`);
  return parts.join(', ');
}
