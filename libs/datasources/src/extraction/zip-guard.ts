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
