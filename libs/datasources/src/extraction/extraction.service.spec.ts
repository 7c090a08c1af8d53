import {
  makeDocx,
  makeEncryptedOffice,
  makeEncryptedPdf,
  makePdf,
  makeXlsx,
} from '../../test/fixtures';
import {
  deeplyNestedPdf,
  hugePageCountPdf,
  lyingDocx,
  lyingXlsx,
  singleLineCsv,
} from '../../test/hostile-files';
import { MIME } from '../files/content-sniffer';
import { ExtractionError } from './extraction.types';
import { ExtractionService } from './extraction.service';

const svc = new ExtractionService();
afterAll(() => svc.close());

async function failure(p: Promise<unknown>): Promise<ExtractionError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ExtractionError);
    return err as ExtractionError;
  }
  throw new Error('expected an ExtractionError');
}

describe('ExtractionService', () => {
  it('extracts PDF text per page with page numbers', async () => {
    const pdf = await makePdf([
      ['The warranty covers parts.'],
      [],
      ['Returns are accepted within 30 days.'],
    ]);
    const doc = await svc.extract(pdf, MIME.pdf);
    expect(doc.pages).toBe(3);
    expect(doc.segments).toEqual([
      { text: 'The warranty covers parts.', location: { page: 1 } },
      { text: 'Returns are accepted within 30 days.', location: { page: 3 } },
    ]);
  });

  it('fails an encrypted PDF with reason "encrypted"', async () => {
    const err = await failure(svc.extract(makeEncryptedPdf(), MIME.pdf));
    expect(err.reason).toBe('encrypted');
    expect(err.message).toMatch(/password/);
  });

  it('fails a truncated PDF with reason "corrupt"', async () => {
    const pdf = await makePdf([['hello']]);
    const err = await failure(svc.extract(pdf.subarray(0, 40), MIME.pdf));
    expect(err.reason).toBe('corrupt');
  });

  it('fails a PDF without a text layer with reason "empty"', async () => {
    const err = await failure(svc.extract(await makePdf([[], []]), MIME.pdf));
    expect(err.reason).toBe('empty');
  });

  it('extracts DOCX text with heading locations', async () => {
    const docx = await makeDocx([
      { text: 'Shipping', style: 'Heading1' },
      { text: 'Parcels leave the warehouse on Mondays.' },
      { text: 'Refunds', style: 'Heading2' },
      { text: 'Refunds take five business days.' },
    ]);
    const doc = await svc.extract(docx, MIME.docx);
    expect(doc.segments).toEqual([
      {
        text: 'Shipping\n\nParcels leave the warehouse on Mondays.',
        location: { heading: 'Shipping' },
      },
      { text: 'Refunds\n\nRefunds take five business days.', location: { heading: 'Refunds' } },
    ]);
  });

  it('fails a password-protected Office file with reason "encrypted"', async () => {
    expect((await failure(svc.extract(makeEncryptedOffice(), MIME.docx))).reason).toBe('encrypted');
    expect((await failure(svc.extract(makeEncryptedOffice(), MIME.xlsx))).reason).toBe('encrypted');
  });

  it('fails a corrupt DOCX with reason "corrupt"', async () => {
    const docx = await makeDocx([{ text: 'x' }]);
    expect((await failure(svc.extract(docx.subarray(0, docx.length / 2), MIME.docx))).reason).toBe(
      'corrupt',
    );
  });

  it('extracts XLSX rows with sheet and row numbers, header names on every row', async () => {
    const xlsx = await makeXlsx({
      Prices: [
        ['sku', 'price'],
        ['A-1', 10],
        ['B-2', 25.5],
      ],
      Notes: [['note'], ['Ship by sea']],
    });
    const doc = await svc.extract(xlsx, MIME.xlsx);
    expect(doc.segments).toEqual([
      { text: 'sku; price', location: { sheet: 'Prices', row: 1 } },
      { text: 'sku: A-1; price: 10', location: { sheet: 'Prices', row: 2 } },
      { text: 'sku: B-2; price: 25.5', location: { sheet: 'Prices', row: 3 } },
      { text: 'note', location: { sheet: 'Notes', row: 1 } },
      { text: 'note: Ship by sea', location: { sheet: 'Notes', row: 2 } },
    ]);
  });

  it('extracts CSV rows with their line numbers (header = row 1), quoted newlines included', async () => {
    const csv = 'city,population\nOslo,700000\n"Lille\nNord",230000\n\nGhent,260000\n';
    const doc = await svc.extract(Buffer.from(csv), MIME.csv);
    expect(doc.segments).toEqual([
      { text: 'city: Oslo; population: 700000', location: { row: 2 } },
      { text: 'city: Lille\nNord; population: 230000', location: { row: 4 } },
      { text: 'city: Ghent; population: 260000', location: { row: 6 } },
    ]);
  });

  it('extracts TSV', async () => {
    const doc = await svc.extract(Buffer.from('a\tb\n1\t2\n'), MIME.tsv);
    expect(doc.segments).toEqual([{ text: 'a: 1; b: 2', location: { row: 2 } }]);
  });

  it('drops scripts, styles and navigation from HTML and keeps heading sections', async () => {
    const html = `<!doctype html><html><head><title>T</title><style>p{color:red}</style></head>
      <body><nav>Home | About</nav><script>alert("x")</script>
      <h1>Opening  hours</h1><p>We open at <b>9&nbsp;am</b>.</p>
      <h2>Closed</h2><ul><li>Sundays</li><li>Holidays</li></ul></body></html>`;
    const doc = await svc.extract(Buffer.from(html), MIME.html);
    expect(doc.segments).toEqual([
      { text: 'Opening hours\n\nWe open at 9 am.', location: { heading: 'Opening hours' } },
      { text: 'Closed\n\n- Sundays\n- Holidays', location: { heading: 'Closed' } },
    ]);
    expect(JSON.stringify(doc)).not.toMatch(/alert|color:red|About/);
  });

  it('splits Markdown at headings, ignoring "#" lines inside code fences', async () => {
    const md = 'Intro line\n\n# Setup\nRun it.\n```sh\n# not a heading\n```\n## Usage\nCall it.\n';
    const doc = await svc.extract(Buffer.from(md), MIME.markdown);
    expect(doc.segments).toEqual([
      { text: 'Intro line', location: {} },
      { text: '# Setup\nRun it.\n```sh\n# not a heading\n```', location: { heading: 'Setup' } },
      { text: '## Usage\nCall it.', location: { heading: 'Usage' } },
    ]);
  });

  it('reads JSON and plain text (UTF-8 or Windows-1252); fails invalid JSON, empty files and binary data', async () => {
    expect((await svc.extract(Buffer.from('{"a":[1,"two"]}'), MIME.json)).segments[0].text).toBe(
      '{\n  "a": [\n    1,\n    "two"\n  ]\n}',
    );
    expect((await svc.extract(Buffer.from('\uFEFFhello\r\nworld'), MIME.text)).segments).toEqual([
      { text: 'hello\nworld', location: {} },
    ]);
    expect((await failure(svc.extract(Buffer.from('{"a":'), MIME.json))).reason).toBe('corrupt');
    expect((await failure(svc.extract(Buffer.alloc(0), MIME.text))).reason).toBe('empty');
    expect((await failure(svc.extract(Buffer.from('  \n\n '), MIME.text))).reason).toBe('empty');
    expect((await failure(svc.extract(Buffer.from([0xc3, 0x28, 0x00]), MIME.text))).reason).toBe(
      'corrupt',
    );
    expect(
      (await svc.extract(Buffer.from([0x4a, 0xfc, 0x72, 0x67, 0x65, 0x6e]), MIME.text)).segments[0]
        .text,
    ).toBe('Jürgen');
  });

  it('refuses an Office package that would expand beyond the limit, without inflating it', async () => {
    const docx = await makeDocx([{ text: 'z'.repeat(200_000) }]);
    expect(docx.length).toBeLessThan(10_000); // compresses well
    const small = new ExtractionService({ maxUnzippedBytes: 100_000 });
    try {
      expect((await failure(small.extract(docx, MIME.docx))).reason).toBe('too_large');
      const xlsx = await makeXlsx({ S: [['a'], ['z'.repeat(200_000)]] });
      expect((await failure(small.extract(xlsx, MIME.xlsx))).reason).toBe('too_large');
    } finally {
      await small.close();
    }
    expect((await svc.extract(docx, MIME.docx)).segments[0].text).toHaveLength(200_000);
  });

  it('refuses extracted text beyond the character cap', async () => {
    const small = new ExtractionService({ maxChars: 10 });
    try {
      expect((await failure(small.extract(Buffer.from('a'.repeat(11)), MIME.text))).reason).toBe(
        'too_large',
      );
    } finally {
      await small.close();
    }
  });
});

describe('ExtractionService under attack (worker threads with heap and time limits)', () => {
  it('counts the bytes a ZIP actually inflates, not the sizes its headers declare', async () => {
    // 64 MiB of XML declared as 4 KiB in both headers; 1 MiB allowed
    const docx = await lyingDocx(64 * 1024 * 1024);
    expect(docx.length).toBeLessThan(200_000);
    const xlsx = await lyingXlsx(64 * 1024 * 1024);
    const pool = new ExtractionService({ maxUnzippedBytes: 1024 * 1024 });
    try {
      const d = await failure(pool.extract(docx, MIME.docx));
      expect(d.reason).toBe('too_large');
      expect(d.message).toMatch(/expands to more than 1048576 bytes/);
      expect((await failure(pool.extract(xlsx, MIME.xlsx))).reason).toBe('too_large');
      // the pool survives and reads a normal document next
      const ok = await makeDocx([{ text: 'Still fine.' }]);
      expect((await pool.extract(ok, MIME.docx)).segments[0].text).toBe('Still fine.');
    } finally {
      await pool.close();
    }
  });

  it('fails a file that needs more heap than allowed, terminates that worker and replaces it', async () => {
    // JSON that expands in the heap: 2M small objects
    const json = Buffer.from(`[${'{"a":[1]},'.repeat(600_000)}{}]`);
    const pool = new ExtractionService({ maxHeapMb: 32, timeoutMs: 60_000 });
    try {
      const err = await failure(pool.extract(json, MIME.json));
      expect(err.reason).toBe('too_large');
      expect(err.message).toMatch(/32 MB of memory/);
      expect(pool.size).toBe(0); // the exhausted worker is gone
      expect((await pool.extract(Buffer.from('after'), MIME.text)).segments[0].text).toBe('after');
      expect(pool.size).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('terminates a file that runs past the time limit', async () => {
    const pool = new ExtractionService({ timeoutMs: 1 });
    try {
      const err = await failure(pool.extract(await makePdf([['slow']]), MIME.pdf));
      expect(err.reason).toBe('timeout');
      expect(pool.size).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('refuses a PDF whose page tree claims more pages than allowed, and survives deep nesting', async () => {
    const pool = new ExtractionService({ maxPdfPages: 1000, timeoutMs: 60_000 });
    try {
      const huge = await failure(pool.extract(hugePageCountPdf(100_000), MIME.pdf));
      expect(huge.reason).toBe('too_large');
      expect(huge.message).toMatch(/100000 pages/);
      const deep = await failure(pool.extract(deeplyNestedPdf(500_000), MIME.pdf));
      expect(['corrupt', 'too_large', 'timeout']).toContain(deep.reason);
    } finally {
      await pool.close();
    }
  });

  it('fails a 50 MB single-line CSV with a reason', async () => {
    const pool = new ExtractionService({ maxHeapMb: 256, timeoutMs: 60_000 });
    try {
      const err = await failure(pool.extract(singleLineCsv(50 * 1024 * 1024), MIME.csv));
      expect(err.reason).toBe('too_large');
      expect(err.message).toMatch(/record longer than/);
    } finally {
      await pool.close();
    }
  });

  it('runs files in parallel up to the pool size and queues the rest', async () => {
    const pool = new ExtractionService({ workers: 2 });
    try {
      const docs = await Promise.all(
        ['one', 'two', 'three', 'four'].map((t) => pool.extract(Buffer.from(t), MIME.text)),
      );
      expect(docs.map((d) => d.segments[0].text)).toEqual(['one', 'two', 'three', 'four']);
      expect(pool.size).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('stops an extraction when its signal aborts, with the abort reason (not a file failure)', async () => {
    const pool = new ExtractionService();
    try {
      const abort = new AbortController();
      const p = pool.extract(await makePdf([['x']]), MIME.pdf, abort.signal);
      abort.abort(new Error('job released'));
      await expect(p).rejects.toThrow('job released');
      await expect(p).rejects.not.toBeInstanceOf(ExtractionError);
    } finally {
      await pool.close();
    }
  });
});
