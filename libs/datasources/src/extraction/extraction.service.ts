import { MIME, decodeText, type SupportedMime } from '../files/content-sniffer';
import { htmlToSegments } from './html.extractor';
import {
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
const DEFAULT_MAX_CHARS = 20_000_000;

/**
 * Turns file bytes into located text segments. Never throws anything but
 * `ExtractionError` for bad input, so the ingestion job can fail the file with a
 * reason instead of retrying.
 */
export class ExtractionService {
  constructor(
    private readonly maxChars = DEFAULT_MAX_CHARS,
    /** what a DOCX/XLSX may expand to; larger packages are refused unopened */
    private readonly maxUnzippedBytes = DEFAULT_MAX_UNZIPPED_BYTES,
  ) {}

  async extract(buf: Buffer, mime: string): Promise<ExtractedDocument> {
    if (buf.length === 0) throw new ExtractionError('empty', 'The file is empty.');
    const doc = await this.extractByType(buf, mime);
    const chars = doc.segments.reduce((n, s) => n + s.text.length, 0);
    if (chars === 0) {
      const why = mime === MIME.pdf ? ' (a scanned PDF without a text layer?)' : '';
      throw new ExtractionError('empty', `The file contains no extractable text${why}.`);
    }
    if (chars > this.maxChars)
      throw new ExtractionError(
        'too_large',
        `The extracted text exceeds ${this.maxChars} characters.`,
      );
    return doc;
  }

  private async extractByType(buf: Buffer, mime: string): Promise<ExtractedDocument> {
    switch (mime as SupportedMime) {
      case MIME.pdf:
        return pdfToDocument(buf);
      case MIME.docx:
        return docxToDocument(buf, this.maxUnzippedBytes);
      case MIME.xlsx:
        return xlsxToDocument(buf, this.maxUnzippedBytes);
      case MIME.html:
        return { segments: htmlToSegments(this.text(buf)) };
      case MIME.markdown:
        return { segments: markdownToSegments(this.text(buf)) };
      case MIME.csv:
        return { segments: delimitedToSegments(this.text(buf), ',') };
      case MIME.tsv:
        return { segments: delimitedToSegments(this.text(buf), '\t') };
      case MIME.json:
        return { segments: jsonToSegments(this.text(buf)) };
      case MIME.text:
        return { segments: textToSegments(this.text(buf)) };
      default:
        throw new ExtractionError('unsupported', `Files of type ${mime} cannot be read.`);
    }
  }

  private text(buf: Buffer): string {
    const t = decodeText(buf, true);
    if (t === undefined) throw new ExtractionError('corrupt', 'The file is not valid UTF-8 text.');
    return t;
  }
}
