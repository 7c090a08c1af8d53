import { MIME, decodeText, type SupportedMime } from '../files/content-sniffer';
import { htmlToSegments } from './html.extractor';
import {
  DEFAULT_MAX_PDF_PAGES,
  DEFAULT_MAX_UNZIPPED_BYTES,
  docxToDocument,
  pdfToDocument,
  xlsxToDocument,
} from './office.extractors';
import { ExtractionError, type ExtractedDocument } from './extraction.types';
import {
  delimitedToSegments,
  jsonToSegments,
  markdownToSegments,
  textToSegments,
} from './text.extractors';

/** extracted text beyond this is refused (a zip bomb or a scanned-in phone book) */
export const DEFAULT_MAX_CHARS = 20_000_000;

/** Limits applied while reading one file (inside the extraction worker). */
export interface DocumentLimits {
  /** characters of extracted text */
  maxChars: number;
  /** bytes a DOCX/XLSX may actually inflate to */
  maxUnzippedBytes: number;
  /** pages of a PDF */
  maxPdfPages: number;
}

export const DEFAULT_DOCUMENT_LIMITS: DocumentLimits = {
  maxChars: DEFAULT_MAX_CHARS,
  maxUnzippedBytes: DEFAULT_MAX_UNZIPPED_BYTES,
  maxPdfPages: DEFAULT_MAX_PDF_PAGES,
};

/**
 * Turns file bytes into located text segments, in the calling thread. Never
 * throws anything but `ExtractionError` for bad input. The gateway runs it only
 * inside an extraction worker (`ExtractionService`), never on its event loop.
 */
export async function extractDocument(
  buf: Buffer,
  mime: string,
  limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS,
): Promise<ExtractedDocument> {
  if (buf.length === 0) throw new ExtractionError('empty', 'The file is empty.');
  const doc = await extractByType(buf, mime, limits);
  const chars = doc.segments.reduce((n, s) => n + s.text.length, 0);
  if (chars === 0) {
    const why = mime === MIME.pdf ? ' (a scanned PDF without a text layer?)' : '';
    throw new ExtractionError('empty', `The file contains no extractable text${why}.`);
  }
  if (chars > limits.maxChars)
    throw new ExtractionError(
      'too_large',
      `The extracted text exceeds ${limits.maxChars} characters.`,
    );
  return doc;
}

async function extractByType(
  buf: Buffer,
  mime: string,
  limits: DocumentLimits,
): Promise<ExtractedDocument> {
  switch (mime as SupportedMime) {
    case MIME.pdf:
      return pdfToDocument(buf, limits.maxPdfPages);
    case MIME.docx:
      return docxToDocument(buf, limits.maxUnzippedBytes);
    case MIME.xlsx:
      return xlsxToDocument(buf, limits.maxUnzippedBytes);
    case MIME.html:
      return { segments: htmlToSegments(text(buf, limits)) };
    case MIME.markdown:
      return { segments: markdownToSegments(text(buf, limits)) };
    case MIME.csv:
      return { segments: delimitedToSegments(text(buf, limits), ',') };
    case MIME.tsv:
      return { segments: delimitedToSegments(text(buf, limits), '\t') };
    case MIME.json:
      return { segments: jsonToSegments(text(buf, limits)) };
    case MIME.text:
      return { segments: textToSegments(text(buf, limits)) };
    default:
      throw new ExtractionError('unsupported', `Files of type ${mime} cannot be read.`);
  }
}

function text(buf: Buffer, limits: DocumentLimits): string {
  // a text file can hold at most ~4 bytes per character: far beyond the cap, refuse unparsed
  if (buf.length > limits.maxChars * 4)
    throw new ExtractionError(
      'too_large',
      `The extracted text exceeds ${limits.maxChars} characters.`,
    );
  const t = decodeText(buf, true);
  if (t === undefined) throw new ExtractionError('corrupt', 'The file is not valid UTF-8 text.');
  return t;
}
