import { nativeRequire } from '@switchboard/common';
import type { CellValue, Workbook } from 'exceljs';
import { htmlToSegments } from './html.extractor';
import { ExtractionError, type ExtractedDocument, type TextSegment } from './extraction.types';
import { assertZipWithinLimit, boundedZip } from './zip-guard';

/** uncompressed bytes an Office package may expand to (default 128 MiB) */
export const DEFAULT_MAX_UNZIPPED_BYTES = 128 * 1024 * 1024;
/** pages a PDF may have (default 5,000) */
export const DEFAULT_MAX_PDF_PAGES = 5_000;

const OLE_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

function assertNotEncryptedOffice(buf: Buffer, what: string): void {
  if (buf.subarray(0, 8).equals(OLE_MAGIC))
    throw new ExtractionError('encrypted', `The ${what} is password-protected.`);
}

type UnpdfModule = typeof import('unpdf');
let unpdf: UnpdfModule | undefined;

/** PDF: one segment per page with text, located by page number */
export async function pdfToDocument(
  buf: Buffer,
  maxPages = DEFAULT_MAX_PDF_PAGES,
): Promise<ExtractedDocument> {
  unpdf ??= nativeRequire(__filename)('unpdf') as UnpdfModule;
  let pdf: Awaited<ReturnType<UnpdfModule['getDocumentProxy']>>;
  try {
    // pdf.js takes ownership of (and detaches) the array it is given: pass a copy
    pdf = await unpdf.getDocumentProxy(new Uint8Array(buf));
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'PasswordException')
      throw new ExtractionError('encrypted', 'The PDF is password-protected.', { cause: err });
    throw new ExtractionError('corrupt', `The PDF could not be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (pdf.numPages > maxPages) {
    await pdf.loadingTask.destroy().catch(() => undefined);
    throw new ExtractionError(
      'too_large',
      `The PDF has ${pdf.numPages} pages; at most ${maxPages} are read.`,
    );
  }
  try {
    const { totalPages, text } = await unpdf.extractText(pdf, { mergePages: false });
    const segments: TextSegment[] = [];
    text.forEach((pageText, i) => {
      const t = pageText
        .replace(/[ \t]+\n/g, '\n')
        .replace(/\n{3,}/g, '\n\n')
        .trim();
      if (t) segments.push({ text: t, location: { page: i + 1 } });
    });
    return { segments, pages: totalPages };
  } catch (err) {
    throw new ExtractionError(
      'corrupt',
      `The PDF text could not be extracted: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await pdf.loadingTask.destroy().catch(() => undefined);
  }
}

type MammothModule = typeof import('mammoth');
let mammoth: MammothModule | undefined;

/** DOCX: converted to HTML by mammoth (styles map to h1..h6), then read like HTML */
export async function docxToDocument(
  buf: Buffer,
  maxUnzippedBytes = DEFAULT_MAX_UNZIPPED_BYTES,
): Promise<ExtractedDocument> {
  assertNotEncryptedOffice(buf, 'Word document');
  assertZipWithinLimit(buf, maxUnzippedBytes, 'Word document');
  const bounded = boundedZip(buf, maxUnzippedBytes, 'Word document');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  mammoth ??= require('mammoth') as MammothModule;
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bounded })).value;
  } catch (err) {
    throw new ExtractionError(
      'corrupt',
      `The Word document could not be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { segments: htmlToSegments(html) };
}

type ExcelModule = typeof import('exceljs');
let excel: ExcelModule | undefined;

/** XLSX: one segment per non-empty row, `header: value; ...`, located by sheet and row */
export async function xlsxToDocument(
  buf: Buffer,
  maxUnzippedBytes = DEFAULT_MAX_UNZIPPED_BYTES,
): Promise<ExtractedDocument> {
  assertNotEncryptedOffice(buf, 'spreadsheet');
  assertZipWithinLimit(buf, maxUnzippedBytes, 'spreadsheet');
  const bounded = boundedZip(buf, maxUnzippedBytes, 'spreadsheet');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  excel ??= require('exceljs') as ExcelModule;
  const wb: Workbook = new excel.Workbook();
  try {
    await wb.xlsx.load(bounded as unknown as ArrayBuffer);
  } catch (err) {
    throw new ExtractionError(
      'corrupt',
      `The spreadsheet could not be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const segments: TextSegment[] = [];
  wb.eachSheet((sheet) => {
    let header: string[] | undefined;
    sheet.eachRow({ includeEmpty: false }, (row, rowNumber) => {
      const values: string[] = [];
      row.eachCell({ includeEmpty: true }, (cell, col) => {
        values[col - 1] = cellText(cell.value);
      });
      if (values.every((v) => !v)) return;
      if (!header) {
        header = values.map((v, i) => v || `column ${i + 1}`);
        segments.push({
          text: header.filter(Boolean).join('; '),
          location: { sheet: sheet.name, row: rowNumber },
        });
        return;
      }
      const h = header;
      const text = values
        .map((v, i) => (v ? `${h[i] ?? `column ${i + 1}`}: ${v}` : ''))
        .filter(Boolean)
        .join('; ');
      segments.push({ text, location: { sheet: sheet.name, row: rowNumber } });
    });
  });
  return { segments };
}

function cellText(v: CellValue): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString().replace(/T00:00:00\.000Z$/, '');
  if (typeof v === 'object') {
    if ('richText' in v)
      return v.richText
        .map((r) => r.text)
        .join('')
        .trim();
    if ('text' in v && typeof v.text === 'string') return v.text.trim(); // hyperlink
    if ('result' in v) return cellText(v.result ?? ''); // formula
    if ('error' in v) return String(v.error);
    return '';
  }
  return String(v).trim();
}
