import { crc32, deflateSync } from 'node:zlib';

/**
 * Bytes of a file a simulated code-interpreter run produced: a pure function of
 * the file name and the requested size, so the store keeps no content and a
 * download is generated as it is sent.
 *
 * By extension (case-insensitive):
 * - `.csv`: header `period,revenue,units` and 12 rows of numbers derived from the name;
 * - `.png`: a real 64x48 RGB bar chart (signature, IHDR, IDAT, IEND);
 * - `.json`: an array of the same 12 rows as objects;
 * - anything else: 8 lines of text.
 *
 * With a size, the file has exactly that many bytes: CSV has whole rows, then
 * newlines; JSON has whole rows, the closing bracket, then spaces (1 byte: `0`);
 * text is cut mid-line; a PNG gets a private ancillary chunk (`siMp`) before IEND.
 * A size too small for the format cuts it short (a PNG 1 to 11 bytes over its
 * natural size gets zero bytes after IEND instead), so the first bytes stay typical.
 */
export function containerFileChunks(name: string, size?: number): Iterable<Buffer> {
  const seed = fnv1a(name);
  switch (fileKind(name)) {
    case 'csv':
      return rowChunks(size ?? defaultFileSize(name), {
        head: CSV_HEADER,
        row: (i) => csvRow(seed, i),
        tail: '',
        fill: '\n',
        rows: size === undefined ? DEFAULT_ROWS : Infinity,
      });
    case 'json':
      return jsonChunks(seed, size);
    case 'text':
      return rowChunks(size ?? defaultFileSize(name), {
        head: '',
        row: (i) => textLine(name, i),
        tail: '',
        fill: 'cut',
        rows: size === undefined ? DEFAULT_LINES : Infinity,
      });
    case 'png':
      return pngChunks(barChartPng(seed), size);
  }
}

/** The whole file at once (small files, tests). */
export function containerFileContent(name: string, size?: number): Buffer {
  return Buffer.concat([...containerFileChunks(name, size)]);
}

/** Size of the file when no size is requested. */
export function defaultFileSize(name: string): number {
  const seed = fnv1a(name);
  switch (fileKind(name)) {
    case 'csv':
      return CSV_HEADER.length + sumRows(DEFAULT_ROWS, (i) => csvRow(seed, i).length);
    case 'json':
      return jsonDefaultSize(seed);
    case 'text':
      return sumRows(DEFAULT_LINES, (i) => textLine(name, i).length);
    case 'png':
      return barChartPng(seed).length;
  }
}

/** Which content a file name gets. */
export function fileKind(name: string): 'csv' | 'png' | 'json' | 'text' {
  const dot = name.lastIndexOf('.');
  const ext = dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
  return ext === 'csv' || ext === 'png' || ext === 'json' ? ext : 'text';
}

const DEFAULT_ROWS = 12;
const DEFAULT_LINES = 8;
/** Largest piece generated at a time, so a 64 MiB download never sits in memory. */
const PIECE_BYTES = 64 * 1024;

const CSV_HEADER = 'period,revenue,units\n';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHUNK_OVERHEAD = 12;
const PNG_WIDTH = 64;
const PNG_HEIGHT = 48;

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

interface Row {
  period: number;
  revenue: number;
  units: number;
}

function row(seed: number, i: number): Row {
  const mix = Math.imul(seed ^ Math.imul(i + 1, 0x9e3779b1), 0x85ebca6b) >>> 0;
  return { period: i + 1, revenue: 1000 + (mix % 9000), units: 10 + ((mix >>> 16) % 90) };
}

function csvRow(seed: number, i: number): string {
  const r = row(seed, i);
  return `${r.period},${r.revenue},${r.units}\n`;
}

function jsonRow(seed: number, i: number): string {
  return (i === 0 ? '\n' : ',\n') + JSON.stringify(row(seed, i));
}

function textLine(name: string, i: number): string {
  return `${name} line ${i + 1}: written by the simulated code interpreter\n`;
}

function sumRows(rows: number, length: (i: number) => number): number {
  let total = 0;
  for (let i = 0; i < rows; i++) total += length(i);
  return total;
}

const JSON_TAIL = '\n]\n';

function jsonDefaultSize(seed: number): number {
  return 1 + sumRows(DEFAULT_ROWS, (i) => jsonRow(seed, i).length) + JSON_TAIL.length;
}

function jsonChunks(seed: number, size: number | undefined): Iterable<Buffer> {
  if (size === 0) return [];
  if (size === 1) return [Buffer.from('0')];
  return rowChunks(size ?? jsonDefaultSize(seed), {
    head: '[',
    row: (i) => jsonRow(seed, i),
    // The full tail when it fits; at worst the bracket alone.
    tail: size === undefined || size >= 1 + JSON_TAIL.length ? JSON_TAIL : ']',
    fill: ' ',
    rows: size === undefined ? DEFAULT_ROWS : Infinity,
  });
}

interface RowLayout {
  head: string;
  row(i: number): string;
  /** Reserved after the rows. */
  tail: string;
  /** Pads the rest with this character, or `cut` = the start of the next row. */
  fill: string;
  rows: number;
}

/** `size` bytes: head, whole rows while they fit before the tail, tail, fill. ASCII only. */
function* rowChunks(size: number, layout: RowLayout): Generator<Buffer> {
  if (size < layout.head.length + layout.tail.length) {
    yield Buffer.from((layout.head + layout.tail).slice(0, size), 'latin1');
    return;
  }
  let written = layout.head.length;
  let batch = layout.head;
  const limit = size - layout.tail.length;
  let i = 0;
  for (; i < layout.rows; i++) {
    const next = layout.row(i);
    if (written + next.length > limit) break;
    written += next.length;
    batch += next;
    if (batch.length >= PIECE_BYTES) {
      yield Buffer.from(batch, 'latin1');
      batch = '';
    }
  }
  // The rest: the cut row, or the tail and the fill.
  if (layout.fill === 'cut') {
    batch += layout.row(i).slice(0, size - written);
    written = size;
  } else {
    batch += layout.tail;
    written += layout.tail.length;
  }
  if (batch !== '') yield Buffer.from(batch, 'latin1');
  yield* repeated(layout.fill === 'cut' ? 0 : size - written, layout.fill.charCodeAt(0));
}

function* repeated(count: number, byte: number): Generator<Buffer> {
  for (let left = count; left > 0; left -= PIECE_BYTES) {
    yield Buffer.alloc(Math.min(left, PIECE_BYTES), byte);
  }
}

/** A white 64x48 image with eight bars whose heights derive from the seed. */
function barChartPng(seed: number): Buffer {
  const stride = 1 + PNG_WIDTH * 3;
  const raw = Buffer.alloc(stride * PNG_HEIGHT, 0xff);
  const bars = 8;
  const barWidth = PNG_WIDTH / bars;
  for (let b = 0; b < bars; b++) {
    const height = 8 + (row(seed, b).revenue % (PNG_HEIGHT - 12));
    for (let y = PNG_HEIGHT - height; y < PNG_HEIGHT; y++) {
      for (let x = b * barWidth + 1; x < (b + 1) * barWidth - 1; x++) {
        const at = y * stride + 1 + x * 3;
        raw[at] = 0x1f;
        raw[at + 1] = 0x77;
        raw[at + 2] = 0xb4;
      }
    }
  }
  // Each scanline starts with filter type 0 (None).
  for (let y = 0; y < PNG_HEIGHT; y++) raw[y * stride] = 0;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(PNG_WIDTH, 0);
  header.writeUInt32BE(PNG_HEIGHT, 4);
  header.writeUInt8(8, 8); // bit depth
  header.writeUInt8(2, 9); // colour type: truecolour RGB
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function* pngChunks(png: Buffer, size: number | undefined): Generator<Buffer> {
  if (size === undefined || size <= png.length) {
    yield size === undefined ? png : png.subarray(0, size);
    return;
  }
  if (size < png.length + CHUNK_OVERHEAD) {
    yield png;
    yield* repeated(size - png.length, 0);
    return;
  }
  // siMp: ancillary, private, reserved bit clear, safe to copy; decoders skip it.
  const length = size - png.length - CHUNK_OVERHEAD;
  const type = Buffer.from('siMp', 'latin1');
  let crc = crc32(type);
  const zeros = Buffer.alloc(Math.min(length, PIECE_BYTES));
  for (let left = length; left > 0; left -= PIECE_BYTES) {
    crc = crc32(left >= PIECE_BYTES ? zeros : zeros.subarray(0, left), crc);
  }
  const iend = png.length - CHUNK_OVERHEAD;
  const head = Buffer.alloc(8);
  head.writeUInt32BE(length, 0);
  type.copy(head, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc, 0);
  yield png.subarray(0, iend);
  yield head;
  yield* repeated(length, 0);
  yield tail;
  yield png.subarray(iend);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const chunk = Buffer.alloc(CHUNK_OVERHEAD + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}
