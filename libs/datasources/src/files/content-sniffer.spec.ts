import { makeDocx, makeEncryptedOffice, makePdf, makeXlsx } from '../../test/fixtures';
import { MIME, SNIFF_BYTES, decodeText, sniffContentType } from './content-sniffer';

const text = (s: string, hints = {}) =>
  sniffContentType(Buffer.from(s), { complete: true, ...hints });

describe('sniffContentType', () => {
  it('recognises PDF, DOCX and XLSX by content whatever the name says', async () => {
    expect(sniffContentType(await makePdf([['x']]), { filename: 'a.txt' })).toBe(MIME.pdf);
    expect(sniffContentType(await makeDocx([{ text: 'x' }]), { filename: 'a.xlsx' })).toBe(
      MIME.docx,
    );
    expect(
      sniffContentType((await makeXlsx({ S: [['a']] })).subarray(0, SNIFF_BYTES), {
        filename: 'a.docx',
      }),
    ).toBe(MIME.xlsx);
  });

  it('refuses other binaries: executables, images, plain ZIPs, NUL bytes', () => {
    expect(
      sniffContentType(Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), { filename: 'a.pdf' }),
    ).toBeUndefined();
    expect(sniffContentType(Buffer.from('\x7fELF\x02\x01\x01', 'latin1'))).toBeUndefined();
    expect(
      sniffContentType(Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'), {
        filename: 'a.md',
      }),
    ).toBeUndefined();
    const zip = Buffer.concat([
      Buffer.from('PK\x03\x04', 'latin1'),
      Buffer.alloc(22),
      Buffer.from([5, 0, 0, 0]),
      Buffer.from('a.txt'),
    ]);
    expect(sniffContentType(zip, { filename: 'a.docx' })).toBeUndefined();
    expect(text('hello\u0000world')).toBeUndefined();
  });

  it('accepts a password-protected Office file as its declared type (extraction then fails it)', () => {
    expect(sniffContentType(makeEncryptedOffice(), { filename: 'secret.docx' })).toBe(MIME.docx);
    expect(sniffContentType(makeEncryptedOffice(), { filename: 'secret.xlsx' })).toBe(MIME.xlsx);
    expect(sniffContentType(makeEncryptedOffice(), { filename: 'secret.doc' })).toBeUndefined();
  });

  it('tells the text formats apart by content', () => {
    expect(text('<!DOCTYPE html><html><body>x</body></html>', { filename: 'a.txt' })).toBe(
      MIME.html,
    );
    expect(text('  <html lang="en"><p>x</p></html>')).toBe(MIME.html);
    expect(text('{"a": 1}', { filename: 'a.csv' })).toBe(MIME.json);
    expect(text('[1, 2]')).toBe(MIME.json);
    expect(text('name,age\nann,3\nbob,4\n', { filename: 'a.txt' })).toBe(MIME.csv);
    expect(text('name\tage\nann\t3\n')).toBe(MIME.tsv);
    expect(text('# Title\n\nSome *text* and a [link](http://x).\n')).toBe(MIME.markdown);
    expect(text('Just a note.\nSecond line.')).toBe(MIME.text);
    expect(text('{not json at all')).toBe(MIME.text);
  });

  it('guesses JSON from the head of a long file only for objects and arrays of values', () => {
    const head = (s: string) => sniffContentType(Buffer.from(s), { complete: false });
    expect(head('{"items": [1, 2, 3')).toBe(MIME.json);
    expect(head('[{"id": 1}, {"id": 2')).toBe(MIME.json);
    expect(head('[1] Introduction\nThis report describes')).toBe(MIME.text);
  });

  it('uses the declared type only as a tie-breaker between text formats', () => {
    expect(text('Plain words only.', { filename: 'notes.md' })).toBe(MIME.markdown);
    expect(text('Plain words only.', { declaredType: 'application/pdf' })).toBe(MIME.text);
  });

  it('treats an empty upload as text (extraction fails it as empty)', () => {
    expect(sniffContentType(Buffer.alloc(0), { complete: true })).toBe(MIME.text);
    expect(sniffContentType(Buffer.alloc(0), { complete: false })).toBeUndefined();
  });
});

describe('decodeText', () => {
  it('tolerates a multi-byte character cut by the end of the head, unless the head is the whole file', () => {
    const euro = Buffer.from('price 5€');
    const cut = euro.subarray(0, euro.length - 1);
    expect(decodeText(cut, false)).toBe('price 5');
    expect(decodeText(cut, true)).toBe('price 5â‚'); // not UTF-8 as a whole: Windows-1252
  });

  it('reads non-UTF-8 text as Windows-1252 (legacy CSV exports)', () => {
    const cp1252 = Buffer.from([
      0x6e, 0x61, 0x6d, 0x65, 0x0a, 0x4a, 0xfc, 0x72, 0x67, 0x65, 0x6e, 0x20, 0x80,
    ]);
    expect(decodeText(cp1252, true)).toBe('name\nJürgen €');
    expect(
      sniffContentType(Buffer.from([0x8b, 0x00, 0x01, 0x02]), { complete: true }),
    ).toBeUndefined();
  });

  it('decodes UTF-16 with a byte-order mark', () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('héllo', 'utf16le')]);
    expect(decodeText(le, true)).toBe('héllo');
  });
});
