import { crc32, inflateRawSync } from 'node:zlib';
import { ExtractionError } from './extraction.types';

const EOCD_SIG = 0x06054b50;
const CDH_SIG = 0x02014b50;

/**
 * Total uncompressed size of a ZIP's entries, read from its central directory
 * without inflating anything, so a DOCX/XLSX "zip bomb" is refused before a
 * parser expands it in memory. ZIP64 archives (sizes beyond 4 GiB) count as
 * infinitely large: Office documents under the upload limit never need them.
 */
export function zipUncompressedSize(buf: Buffer): number {
  const from = Math.max(0, buf.length - 22 - 0xffff);
  let eocd = -1;
  for (let i = buf.length - 22; i >= from; i--) {
    if (buf.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ExtractionError('corrupt', 'The document is not a complete ZIP package.');
  const entries = buf.readUInt16LE(eocd + 10);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (entries === 0xffff || cdOffset === 0xffffffff) return Number.POSITIVE_INFINITY;
  let p = cdOffset;
  let total = 0;
  for (let n = 0; n < entries; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== CDH_SIG)
      throw new ExtractionError('corrupt', 'The document has a damaged ZIP directory.');
    const size = buf.readUInt32LE(p + 24);
    if (size === 0xffffffff) return Number.POSITIVE_INFINITY;
    total += size;
    p += 46 + buf.readUInt16LE(p + 28) + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return total;
}

export function assertZipWithinLimit(buf: Buffer, maxBytes: number, what: string): void {
  const size = zipUncompressedSize(buf);
  if (size > maxBytes)
    throw new ExtractionError('too_large', `The ${what} expands to more than ${maxBytes} bytes.`);
}

const LFH_SIG = 0x04034b50;
/** entries per package at most (many empty entries cost parsers memory too) */
export const MAX_ZIP_ENTRIES = 10_000;

interface ZipEntry {
  name: Buffer;
  /** general purpose flags kept in the rebuilt package (bit 11: UTF-8 names) */
  utf8: boolean;
  data: Buffer;
}

/**
 * Reads every entry of a ZIP package by inflating it here, counting the bytes
 * it ACTUALLY expands to (never the sizes its headers declare), and refuses
 * the package as soon as the total passes `maxBytes`: inflation stops at the
 * cap, so a lying header cannot make it allocate more. Returns a new package
 * of the same entries stored uncompressed with true sizes and checksums, so
 * the parser that reads it (mammoth, exceljs) sees only bounded, verified data.
 */
export function boundedZip(buf: Buffer, maxBytes: number, what: string): Buffer {
  const corrupt = (why: string) =>
    new ExtractionError('corrupt', `The ${what} has a damaged ZIP structure (${why}).`);
  const tooLarge = () =>
    new ExtractionError('too_large', `The ${what} expands to more than ${maxBytes} bytes.`);
  const from = Math.max(0, buf.length - 22 - 0xffff);
  let eocd = -1;
  for (let i = buf.length - 22; i >= from; i--) {
    if (buf.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ExtractionError('corrupt', `The ${what} is not a complete ZIP package.`);
  const count = buf.readUInt16LE(eocd + 10);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) throw tooLarge(); // ZIP64
  if (count > MAX_ZIP_ENTRIES)
    throw new ExtractionError('too_large', `The ${what} has more than ${MAX_ZIP_ENTRIES} parts.`);
  const entries: ZipEntry[] = [];
  let budget = maxBytes;
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== CDH_SIG) throw corrupt('directory');
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen);
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
    if (p > buf.length) throw corrupt('directory');
    if (flags & 1) throw new ExtractionError('encrypted', `The ${what} is password-protected.`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LFH_SIG) throw corrupt('entry');
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const end = start + compressed;
    if (end > buf.length) throw corrupt('entry');
    const raw = buf.subarray(start, end);
    let data: Buffer;
    if (method === 0) {
      data = raw;
    } else if (method === 8) {
      try {
        // maxOutputLength stops inflating once the output passes it
        data = inflateRawSync(raw, { maxOutputLength: budget + 1 });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
        throw corrupt('compressed data');
      }
    } else {
      throw new ExtractionError(
        'unsupported',
        `The ${what} uses an unsupported ZIP compression method (${method}).`,
      );
    }
    if (data.length > budget) throw tooLarge();
    budget -= data.length;
    entries.push({ name, utf8: (flags & 0x0800) !== 0, data });
  }
  return storedZip(entries);
}

/** a ZIP of `entries`, stored (method 0) with their true sizes and CRC-32s */
function storedZip(entries: ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const crc = crc32(e.data);
    const flags = e.utf8 ? 0x0800 : 0;
    const lfh = Buffer.alloc(30);
    lfh.writeUInt32LE(LFH_SIG, 0);
    lfh.writeUInt16LE(20, 4);
    lfh.writeUInt16LE(flags, 6);
    lfh.writeUInt16LE(0, 8);
    lfh.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00
    lfh.writeUInt32LE(crc, 14);
    lfh.writeUInt32LE(e.data.length, 18);
    lfh.writeUInt32LE(e.data.length, 22);
    lfh.writeUInt16LE(e.name.length, 26);
    lfh.writeUInt16LE(0, 28);
    const cdh = Buffer.alloc(46);
    cdh.writeUInt32LE(CDH_SIG, 0);
    cdh.writeUInt16LE(20, 4);
    cdh.writeUInt16LE(20, 6);
    cdh.writeUInt16LE(flags, 8);
    cdh.writeUInt16LE(0, 10);
    cdh.writeUInt32LE(0x00210000, 12);
    cdh.writeUInt32LE(crc, 16);
    cdh.writeUInt32LE(e.data.length, 20);
    cdh.writeUInt32LE(e.data.length, 24);
    cdh.writeUInt16LE(e.name.length, 28);
    cdh.writeUInt32LE(offset, 42);
    parts.push(lfh, e.name, e.data);
    directory.push(cdh, e.name);
    offset += 30 + e.name.length + e.data.length;
  }
  const cdSize = directory.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD_SIG, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...directory, end]);
}
