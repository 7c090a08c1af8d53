import fc from 'fast-check';
import type { TextSegment } from '@switchboard/datasources';
import { estimateTextTokens } from '@switchboard/llm';
import { chunkSegments, documentText } from './chunker';

const word = fc.oneof(
  fc.constantFrom(
    'alpha',
    'beta',
    'gamma',
    'turbine',
    'ledger',
    'Zürich',
    'naïve',
    '東京',
    '😀',
    '👩‍💻',
    'x',
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.constant('a'.repeat(300)), // one very long "word": forces a hard split
);
const sentence = fc.array(word, { minLength: 1, maxLength: 20 }).map((w) => `${w.join(' ')}.`);
const paragraph = fc.array(sentence, { minLength: 1, maxLength: 6 }).map((s) => s.join(' '));
const segmentText = fc.array(paragraph, { minLength: 1, maxLength: 4 }).map((p) => p.join('\n\n'));
const segments = fc
  .array(fc.record({ text: segmentText, page: fc.integer({ min: 1, max: 50 }) }), {
    minLength: 1,
    maxLength: 4,
  })
  .map((xs) => xs.map((x, i): TextSegment => ({ text: x.text, location: { page: i + 1 } })));

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

describe('chunkSegments (properties)', () => {
  it('chunks are slices of the document, within the bound, cover all text, never split a code point', () => {
    fc.assert(
      fc.property(
        segments,
        fc.integer({ min: 16, max: 120 }),
        fc.integer({ min: 0, max: 40 }),
        (segs, maxTokens, overlap) => {
          const doc = documentText(segs);
          const chunks = chunkSegments(segs, { maxTokens, overlapTokens: overlap });
          const covered = new Uint8Array(doc.length);
          for (const c of chunks) {
            expect(c.text).toBe(doc.slice(c.charStart, c.charEnd));
            expect(c.tokens).toBe(estimateTextTokens(c.text));
            expect(c.tokens).toBeLessThanOrEqual(maxTokens);
            expect(
              /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(c.text),
            ).toBe(false);
            expect(
              isLow(doc.charCodeAt(c.charStart)) && isHigh(doc.charCodeAt(c.charStart - 1)),
            ).toBe(false);
            expect(isLow(doc.charCodeAt(c.charEnd)) && isHigh(doc.charCodeAt(c.charEnd - 1))).toBe(
              false,
            );
            covered.fill(1, c.charStart, c.charEnd);
          }
          const uncovered: number[] = [];
          for (let i = 0; i < doc.length; i++)
            if (covered[i] === 0 && !/\s/.test(doc[i])) uncovered.push(i);
          expect(uncovered).toEqual([]);
          // order and progress
          chunks.forEach((c, i) => {
            expect(c.index).toBe(i);
            if (i > 0) expect(c.charStart).toBeGreaterThan(chunks[i - 1].charStart);
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('chunkSegments', () => {
  const para = (n: number, w: string) =>
    Array.from({ length: n }, (_, i) => `${w} sentence number ${i} ends here.`).join(' ');

  it('keeps small paragraphs together and breaks at paragraph boundaries first', () => {
    const text = `${para(3, 'First')}\n\n${para(3, 'Second')}\n\n${para(3, 'Third')}`;
    const chunks = chunkSegments([{ text, location: {} }], { maxTokens: 40, overlapTokens: 0 });
    expect(chunks.map((c) => c.text.split(' ')[0])).toEqual(['First', 'Second', 'Third']);
    expect(chunks.every((c) => c.text.endsWith('ends here.'))).toBe(true);
  });

  it('splits an over-long paragraph at sentence boundaries', () => {
    const text = para(20, 'Alpha');
    const chunks = chunkSegments([{ text, location: {} }], { maxTokens: 40, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.text).toMatch(/^Alpha .* ends here\.$/);
  });

  it('repeats trailing sentences of a chunk at the start of the next (overlap)', () => {
    const chunks = chunkSegments([{ text: para(20, 'Beta'), location: {} }], {
      maxTokens: 40,
      overlapTokens: 12,
    });
    for (let i = 1; i < chunks.length; i++)
      expect(chunks[i].charStart).toBeLessThan(chunks[i - 1].charEnd);
  });

  it('gives chunks page and row ranges, and never mixes sheets', () => {
    const rows: TextSegment[] = [
      ...Array.from({ length: 6 }, (_, i): TextSegment => ({
        text: `sku: A${i}; price: ${i}`,
        location: { sheet: 'Prices', row: i + 2 },
      })),
      { text: 'note: fragile', location: { sheet: 'Notes', row: 2 } },
    ];
    const chunks = chunkSegments(rows, { maxTokens: 200 });
    expect(chunks.map((c) => c.location)).toEqual([
      { sheet: 'Prices', row: 2, rowEnd: 7 },
      { sheet: 'Notes', row: 2 },
    ]);
    const pages = chunkSegments(
      [
        { text: 'one', location: { page: 1 } },
        { text: 'two', location: { page: 2 } },
      ],
      { maxTokens: 200 },
    );
    expect(pages).toEqual([
      {
        index: 0,
        text: 'one\n\ntwo',
        location: { page: 1, pageEnd: 2 },
        charStart: 0,
        charEnd: 8,
        tokens: expect.any(Number),
      },
    ]);
  });

  it('returns no chunks for no text', () => {
    expect(chunkSegments([])).toEqual([]);
    expect(chunkSegments([{ text: '  \n\n ', location: {} }])).toEqual([]);
  });
});
