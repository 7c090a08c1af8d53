/**
 * Files built to hurt a document parser, for the attack tests: ZIPs whose
 * headers lie about their sizes, PDFs with absurd nesting or page counts, a
 * giant single-line CSV. Built in memory; nothing hostile is kept on disk.
 */
import { crc32, createDeflateRaw } from 'node:zlib';

/** raw-deflates `size` bytes of one repeated letter, streaming (never holds `size` bytes) */
async function deflatedRun(size: number): Promise<{ data: Buffer; crc: number }> {
  const d = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  d.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    d.on('end', resolve);
    d.on('error', reject);
  });
  const chunk = Buffer.alloc(1 << 20, 0x61);
  let crc = 0;
  for (let left = size; left > 0; left -= chunk.length) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    crc = crc32(part, crc);
    if (!d.write(part)) await new Promise((r) => d.once('drain', r));
  }
  d.end();
  await ended;
  return { data: Buffer.concat(out), crc };
}

interface RawEntry {
  name: string;
  data: Buffer;
  method: 0 | 8;
  crc: number;
  /** the uncompressed size written in both headers (the lie) */
  declared: number;
}

function zip(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  const dir: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const lfh = Buffer.alloc(30);
    lfh.writeUInt32LE(0x04034b50, 0);
    lfh.writeUInt16LE(20, 4);
    lfh.writeUInt16LE(e.method, 8);
    lfh.writeUInt32LE(e.crc >>> 0, 14);
    lfh.writeUInt32LE(e.data.length, 18);
    lfh.writeUInt32LE(e.declared, 22);
    lfh.writeUInt16LE(name.length, 26);
    const cdh = Buffer.alloc(46);
    cdh.writeUInt32LE(0x02014b50, 0);
    cdh.writeUInt16LE(20, 4);
    cdh.writeUInt16LE(20, 6);
    cdh.writeUInt16LE(e.method, 10);
    cdh.writeUInt32LE(e.crc >>> 0, 16);
    cdh.writeUInt32LE(e.data.length, 20);
    cdh.writeUInt32LE(e.declared, 24);
    cdh.writeUInt16LE(name.length, 28);
    cdh.writeUInt32LE(offset, 42);
    parts.push(lfh, name, e.data);
    dir.push(cdh, name);
    offset += 30 + name.length + e.data.length;
  }
  const size = dir.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...dir, end]);
}

const stored = (name: string, text: string): RawEntry => {
  const data = Buffer.from(text);
  return { name, data, method: 0, crc: crc32(data), declared: data.length };
};

/**
 * A DOCX whose `word/document.xml` inflates to `inflated` bytes while both its
 * headers declare `declared` (the 1 MB file that claims 4 KB for 1 GB).
 */
export async function lyingDocx(inflated: number, declared = 4096): Promise<Buffer> {
  const bomb = await deflatedRun(inflated);
  return zip([
    stored(
      '[Content_Types].xml',
      '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
    ),
    { name: 'word/document.xml', data: bomb.data, method: 8, crc: bomb.crc, declared },
  ]);
}

/** the same lie in a spreadsheet: `xl/worksheets/sheet1.xml` inflates to `inflated` bytes */
export async function lyingXlsx(inflated: number, declared = 4096): Promise<Buffer> {
  const bomb = await deflatedRun(inflated);
  return zip([
    stored('[Content_Types].xml', '<?xml version="1.0"?><Types/>'),
    { name: 'xl/worksheets/sheet1.xml', data: bomb.data, method: 8, crc: bomb.crc, declared },
  ]);
}

function pdf(objs: string[]): Buffer {
  const parts = ['%PDF-1.4\n'];
  const xrefLines: string[] = [];
  let at = parts[0].length;
  for (const o of objs) {
    xrefLines.push(`${String(at).padStart(10, '0')} 00000 n \n`);
    parts.push(`${o}\n`);
    at += o.length + 1;
  }
  parts.push(
    `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`,
    ...xrefLines,
    `trailer << /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${at}\n%%EOF\n`,
  );
  return Buffer.from(parts.join(''), 'latin1');
}

/** a one-page PDF whose page carries an array nested `depth` levels deep */
export function deeplyNestedPdf(depth: number): Buffer {
  const nested = '['.repeat(depth) + ']'.repeat(depth);
  return pdf([
    '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
    '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj',
    `3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Deep ${nested} >> endobj`,
    '4 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 10 100 Td (deep) Tj ET\nendstream endobj',
  ]);
}

/**
 * A PDF with `pages` distinct, empty pages in one flat page tree (pdf.js checks
 * the declared /Count against the tree, so the pages must really be there).
 */
export function hugePageCountPdf(pages: number): Buffer {
  const objs = [
    '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
    `2 0 obj << /Type /Pages /Kids [${Array.from({ length: pages }, (_, i) => `${i + 3} 0 R`).join(' ')}] /Count ${pages} >> endobj`,
  ];
  for (let i = 0; i < pages; i++)
    objs.push(`${i + 3} 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] >> endobj`);
  return pdf(objs);
}

/** a CSV of one line: `bytes` bytes of comma-free text (no record ever ends) */
export function singleLineCsv(bytes: number): Buffer {
  const head = Buffer.from('name,');
  const buf = Buffer.alloc(bytes, 0x78);
  head.copy(buf, 0);
  return buf;
}
