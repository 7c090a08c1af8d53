import { crc32, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import {
  containerFileChunks,
  containerFileContent,
  defaultFileSize,
} from './container-file.content';

interface PngChunk {
  type: string;
  data: Buffer;
}

/** Walks a PNG's chunks, checking the signature, each CRC and that IEND ends the file. */
function pngChunks(png: Buffer): PngChunk[] {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  const chunks: PngChunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString('latin1');
    const data = png.subarray(at + 8, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length)).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data });
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  expect(chunks.at(-1)?.type).toBe('IEND');
  return chunks;
}

describe('containerFileContent', () => {
  it('is deterministic per name and differs between names', () => {
    for (const name of ['a.csv', 'a.png', 'a.json', 'a.txt']) {
      expect(containerFileContent(name).equals(containerFileContent(name))).toBe(true);
    }
    expect(containerFileContent('a.csv').equals(containerFileContent('b.csv'))).toBe(false);
  });

  it('writes a CSV with a header and 12 numeric rows', () => {
    const lines = containerFileContent('Sales.CSV').toString().split('\n');
    expect(lines[0]).toBe('period,revenue,units');
    expect(lines.slice(1, -1)).toHaveLength(12);
    for (const line of lines.slice(1, -1)) expect(line).toMatch(/^\d+,\d+,\d+$/);
    expect(lines.at(-1)).toBe('');
  });

  it('draws a real 64x48 RGB PNG whose image data inflates to every scanline', () => {
    const chunks = pngChunks(containerFileContent('chart.png'));
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const ihdr = chunks[0].data;
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9]]).toEqual([64, 48, 8, 2]);
    expect(inflateSync(chunks[1].data).length).toBe((1 + 64 * 3) * 48);
  });

  it('writes JSON rows and plain text for other names', () => {
    const rows = JSON.parse(containerFileContent('out.json').toString()) as unknown[];
    expect(rows).toHaveLength(12);
    expect(rows[0]).toEqual({ period: 1, revenue: expect.any(Number), units: expect.any(Number) });
    expect(containerFileContent('README').toString()).toMatch(/^README line 1: /);
  });

  it('has exactly the requested size for every type', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('x.csv', 'x.png', 'x.json', 'x.txt', 'x'),
        fc.integer({ min: 0, max: 20_000 }),
        (name, size) => containerFileContent(name, size).length === size,
      ),
    );
  });

  it('keeps a sized CSV to whole rows followed by blank lines', () => {
    fc.assert(
      fc.property(fc.integer({ min: 21, max: 20_000 }), (size) => {
        const lines = containerFileContent('t.csv', size).toString().split('\n');
        const filled = lines.filter((l) => l !== '');
        return (
          filled[0] === 'period,revenue,units' &&
          filled.slice(1).every((l) => /^\d+,\d+,\d+$/.test(l)) &&
          lines.slice(filled.length).every((l) => l === '')
        );
      }),
    );
  });

  it('keeps a sized JSON file parseable from 1 byte up', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), (size) => {
        const value: unknown = JSON.parse(containerFileContent('t.json', size).toString());
        return size === 1 ? value === 0 : Array.isArray(value);
      }),
    );
  });

  it('pads a PNG with a valid ancillary chunk, from 12 bytes over its natural size', () => {
    const natural = containerFileContent('p.png').length;
    fc.assert(
      fc.property(fc.integer({ min: natural + 12, max: natural + 50_000 }), (size) => {
        const chunks = pngChunks(containerFileContent('p.png', size));
        return chunks.map((c) => c.type).join(',') === 'IHDR,IDAT,siMp,IEND';
      }),
    );
    expect(containerFileContent('p.png', natural).equals(containerFileContent('p.png'))).toBe(true);
    // Too small for a chunk: trailing zeros after IEND; too small for the image: cut short.
    expect(containerFileContent('p.png', natural + 5).subarray(0, natural)).toEqual(
      containerFileContent('p.png'),
    );
    expect(containerFileContent('p.png', 8).toString('hex')).toBe('89504e470d0a1a0a');
  });

  it('knows the default size of every name without building the file', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
        fc.constantFrom('.csv', '.png', '.json', '.txt', '.CSV', ''),
        (stem, ext) => defaultFileSize(stem + ext) === containerFileContent(stem + ext).length,
      ),
    );
  });

  it('generates a large file in pieces of at most 64 KiB', () => {
    const size = 8 * 1024 * 1024 + 7;
    for (const name of ['huge.csv', 'huge.png', 'huge.json', 'huge.log']) {
      let total = 0;
      let largest = 0;
      for (const piece of containerFileChunks(name, size)) {
        total += piece.length;
        largest = Math.max(largest, piece.length);
      }
      expect({ name, total }).toEqual({ name, total: size });
      expect(largest).toBeLessThanOrEqual(64 * 1024 + 100);
    }
  });
});
