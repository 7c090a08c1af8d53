/**
 * Decides a file's type from its first bytes, never from its name alone. Binary
 * formats are recognised by magic numbers (PDF; ZIP containers told apart by
 * their part names: `word/` = DOCX, `xl/` = XLSX; images only when the caller
 * asks for them). Text formats are recognised by content; the declared type or
 * file name only breaks ties between text formats (a Markdown file without
 * headings still reads as text).
 *
 * `MIME` lists the document types: what uploads accept and ingestion reads.
 */
export const MIME = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  html: 'text/html',
  markdown: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  text: 'text/plain',
} as const;

export type SupportedMime = (typeof MIME)[keyof typeof MIME];
export const SUPPORTED_MIMES: readonly SupportedMime[] = Object.values(MIME);

/**
 * Image types, stored for download but never ingested. Uploads refuse them;
 * only files produced on a user's behalf (code interpreter charts) may be images.
 */
export const IMAGE_MIME = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
} as const;

export type ImageMime = (typeof IMAGE_MIME)[keyof typeof IMAGE_MIME];
export const IMAGE_MIMES: readonly ImageMime[] = Object.values(IMAGE_MIME);

/** every type a stored file can have */
export type FileMime = SupportedMime | ImageMime;

export function isImageMime(mime: string): mime is ImageMime {
  return (IMAGE_MIMES as readonly string[]).includes(mime);
}

/** bytes to look at; enough for the first few ZIP local headers of an Office file */
export const SNIFF_BYTES = 64 * 1024;

export interface SniffHints {
  filename?: string;
  declaredType?: string;
  /** the head is the whole file (lets JSON be parsed, and a cut UTF-8 tail be told apart) */
  complete?: boolean;
}

export interface SniffOptions extends SniffHints {
  /**
   * also accept PNG, JPEG, GIF and WebP (by magic number); off by default, so an
   * image is refused like any other unsupported binary
   */
  allowImages?: boolean;
}

export function sniffContentType(
  head: Buffer,
  options: SniffHints & { allowImages: true },
): FileMime | undefined;
export function sniffContentType(
  head: Buffer,
  options?: SniffHints & { allowImages?: false },
): SupportedMime | undefined;
export function sniffContentType(head: Buffer, options?: SniffOptions): FileMime | undefined;
export function sniffContentType(head: Buffer, hints: SniffOptions = {}): FileMime | undefined {
  // an empty upload is accepted as text and fails extraction with "empty"
  if (head.length === 0) return hints.complete ? MIME.text : undefined;
  const image = sniffImage(head);
  if (image) return hints.allowImages ? image : undefined;
  if (startsWith(head, [0x25, 0x50, 0x44, 0x46, 0x2d])) return MIME.pdf; // %PDF-
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) return sniffZip(head);
  // Password-protected OOXML is an OLE compound file holding an EncryptedPackage
  // stream; accept it as the declared Office type so extraction can fail it with
  // the reason "encrypted" instead of a bare 415.
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) {
    if (!head.includes(Buffer.from('EncryptedPackage', 'utf16le'))) return undefined;
    const hint = hintedKind(hints);
    return hint === 'xlsx' ? MIME.xlsx : hint === 'docx' ? MIME.docx : undefined;
  }
  const text = decodeText(head, hints.complete ?? false);
  if (text === undefined) return undefined;
  return sniffText(text, hints);
}

function startsWith(buf: Buffer, magic: number[], at = 0): boolean {
  return buf.length >= at + magic.length && magic.every((b, i) => buf[at + i] === b);
}

/** the image formats by their signatures (PNG spec 5.2, JFIF SOI, GIF87a/89a, RIFF WEBP) */
function sniffImage(head: Buffer): ImageMime | undefined {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return IMAGE_MIME.png;
  if (startsWith(head, [0xff, 0xd8, 0xff])) return IMAGE_MIME.jpeg;
  if (startsWith(head, [0x47, 0x49, 0x46, 0x38, 0x37, 0x61])) return IMAGE_MIME.gif; // GIF87a
  if (startsWith(head, [0x47, 0x49, 0x46, 0x38, 0x39, 0x61])) return IMAGE_MIME.gif; // GIF89a
  if (startsWith(head, [0x52, 0x49, 0x46, 0x46]) && startsWith(head, [0x57, 0x45, 0x42, 0x50], 8))
    return IMAGE_MIME.webp; // RIFF <size> WEBP
  return undefined;
}

/** reads the names of the ZIP local file headers present in `head` */
function zipEntryNames(head: Buffer): string[] {
  const names: string[] = [];
  let i = head.indexOf('PK\x03\x04', 0, 'latin1');
  while (i >= 0 && i + 30 <= head.length) {
    const nameLen = head.readUInt16LE(i + 26);
    if (i + 30 + nameLen > head.length) break;
    names.push(head.subarray(i + 30, i + 30 + nameLen).toString('utf8'));
    i = head.indexOf('PK\x03\x04', i + 30 + nameLen, 'latin1');
  }
  return names;
}

function sniffZip(head: Buffer): SupportedMime | undefined {
  const names = zipEntryNames(head);
  if (names.some((n) => n.startsWith('word/'))) return MIME.docx;
  if (names.some((n) => n.startsWith('xl/'))) return MIME.xlsx;
  return undefined;
}

function hintedKind(
  h: SniffHints,
): 'docx' | 'xlsx' | 'markdown' | 'csv' | 'tsv' | 'json' | 'html' | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(h.filename ?? '')?.[1]?.toLowerCase();
  const t = (h.declaredType ?? '').split(';')[0].trim().toLowerCase();
  if (ext === 'docx' || t === MIME.docx) return 'docx';
  if (ext === 'xlsx' || t === MIME.xlsx) return 'xlsx';
  if (ext === 'md' || ext === 'markdown' || t === 'text/markdown' || t === 'text/x-markdown')
    return 'markdown';
  if (ext === 'csv' || t === 'text/csv') return 'csv';
  if (ext === 'tsv' || t === 'text/tab-separated-values') return 'tsv';
  if (ext === 'json' || t === 'application/json') return 'json';
  if (ext === 'html' || ext === 'htm' || t === 'text/html') return 'html';
  return undefined;
}

/**
 * Text when the bytes are UTF-8 (or UTF-16 with a BOM, or else Windows-1252)
 * without control characters other than whitespace. A multi-byte character cut by the end of
 * the head is tolerated unless the head is the whole file.
 */
export function decodeText(head: Buffer, complete: boolean): string | undefined {
  let text: string;
  if (startsWith(head, [0xff, 0xfe])) text = new TextDecoder('utf-16le').decode(head.subarray(2));
  else if (startsWith(head, [0xfe, 0xff]))
    text = new TextDecoder('utf-16be').decode(head.subarray(2));
  else {
    let body = startsWith(head, [0xef, 0xbb, 0xbf]) ? head.subarray(3) : head;
    if (!complete) body = body.subarray(0, body.length - incompleteUtf8Tail(body));
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      // not UTF-8: legacy single-byte text (Excel's CSV export on Windows) reads
      // as Windows-1252; binary data still fails the control-character test below
      text = new TextDecoder('windows-1252').decode(head);
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001a\u001c-\u001f\u007f]/.test(text)) return undefined;
  return text;
}

/** number of trailing bytes that start a UTF-8 sequence the buffer cuts short */
function incompleteUtf8Tail(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

function sniffText(text: string, hints: SniffHints): SupportedMime | undefined {
  const trimmed = text.trimStart();
  if (trimmed.length === 0) return hints.complete ? MIME.text : undefined;
  const hint = hintedKind(hints);

  if (/^<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])/i.test(trimmed)) return MIME.html;
  if (/^(<\?xml[^>]*>\s*)?<!doctype html/i.test(trimmed)) return MIME.html;

  if (trimmed[0] === '{' || trimmed[0] === '[') {
    if (hints.complete) {
      try {
        JSON.parse(text);
        return MIME.json;
      } catch {
        // not JSON after all: fall through to the other text checks
      }
    } else if (hint === 'json' || /^(\{\s*"|\[\s*[{["])/.test(trimmed)) {
      // too long to parse here: an object key or an array of objects/arrays/strings
      return MIME.json;
    }
  }

  if (hint === 'html' && /<(p|div|h[1-6]|table|span|a)\b[^>]*>/i.test(trimmed)) return MIME.html;

  const delimited = delimiterOf(text, hints.complete ?? false);
  if (delimited === '\t' && hint !== 'markdown') return MIME.tsv;
  if (delimited === ',' && hint !== 'markdown') return MIME.csv;

  if (hint === 'markdown' || looksLikeMarkdown(text)) return MIME.markdown;
  if (hint === 'csv' && delimited) return MIME.csv;
  return MIME.text;
}

/**
 * A tab or comma that splits at least two lines into the same number (>= 2) of
 * fields, on (nearly) every line, marks a delimited table.
 */
function delimiterOf(text: string, complete: boolean): ',' | '\t' | undefined {
  let lines = text.split(/\r?\n/);
  if (!complete && lines.length > 1) lines = lines.slice(0, -1); // last line may be cut
  lines = lines.filter((l) => l.trim().length > 0).slice(0, 50);
  if (lines.length < 2) return undefined;
  for (const d of ['\t', ','] as const) {
    const counts = lines.map((l) => countFields(l, d));
    const first = counts[0];
    if (first < 2) continue;
    const agreeing = counts.filter((c) => c === first).length;
    if (agreeing / counts.length >= 0.9) return d;
  }
  return undefined;
}

function countFields(line: string, d: string): number {
  let n = 1;
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === d && !quoted) n++;
  }
  return n;
}

function looksLikeMarkdown(text: string): boolean {
  const sample = text.slice(0, 8192);
  let score = 0;
  if (/^#{1,6} \S/m.test(sample)) score += 2;
  if (/^```/m.test(sample)) score += 2;
  if (/\[[^\]]+\]\([^)\s]+\)/.test(sample)) score += 1;
  if (/^\s*[-*+] \S/m.test(sample)) score += 1;
  if (/^\s*\d+\. \S/m.test(sample)) score += 1;
  if (/\*\*[^*\n]+\*\*/.test(sample)) score += 1;
  if (/^\|.+\|\s*$/m.test(sample) && /^\|[\s:|-]+\|\s*$/m.test(sample)) score += 2;
  return score >= 2;
}
