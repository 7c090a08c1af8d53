import { makeDocx, makeEncryptedOffice, makePdf, makePng, makeXlsx } from '../../test/fixtures';
import {
  IMAGE_MIME,
  MIME,
  SNIFF_BYTES,
  decodeText,
  isImageMime,
  sniffContentType,
} from './content-sniffer';

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

  describe('images (only with allowImages)', () => {
    const riff = (form: string) =>
      Buffer.concat([
        Buffer.from('RIFF', 'latin1'),
        Buffer.from([0x24, 0x10, 0, 0]),
        Buffer.from(`${form}VP8 `, 'latin1'),
        Buffer.alloc(16),
      ]);
    const images: Array<[string, Buffer, string]> = [
      ['PNG', makePng(), IMAGE_MIME.png],
      ['JPEG', Buffer.from('\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01', 'latin1'), IMAGE_MIME.jpeg],
      ['GIF87a', Buffer.from('GIF87a\x01\x00\x01\x00\x80\x00\x00', 'latin1'), IMAGE_MIME.gif],
      ['GIF89a', Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00', 'latin1'), IMAGE_MIME.gif],
      ['WebP', riff('WEBP'), IMAGE_MIME.webp],
    ];

    it.each(images)('recognises %s by its signature, whatever the name says', (_, bytes, mime) => {
      expect(sniffContentType(bytes, { allowImages: true, filename: 'data.csv' })).toBe(mime);
      expect(isImageMime(mime)).toBe(true);
    });

    it.each(images)('refuses %s when images are not allowed (uploads)', (_, bytes) => {
      expect(sniffContentType(bytes, { filename: 'chart.png' })).toBeUndefined();
      expect(sniffContentType(bytes, { allowImages: false, complete: true })).toBeUndefined();
    });

    it('refuses an image by its signature, not by luck: printable bytes after it do not make it text', () => {
      // without the signature check this reads as Windows-1252 text
      const jpegHead = Buffer.from('\xff\xd8\xffExif header, all printable', 'latin1');
      expect(decodeText(jpegHead, true)).toBe('ÿØÿExif header, all printable');
      expect(sniffContentType(jpegHead, { complete: true })).toBeUndefined();
      expect(sniffContentType(jpegHead, { complete: true, allowImages: true })).toBe(
        IMAGE_MIME.jpeg,
      );
    });

    it('still types documents and refuses other binaries with images allowed', async () => {
      expect(sniffContentType(await makePdf([['x']]), { allowImages: true })).toBe(MIME.pdf);
      expect(
        sniffContentType(Buffer.from('a,b\n1,2\n'), { allowImages: true, complete: true }),
      ).toBe(MIME.csv);
      expect(sniffContentType(riff('AVI '), { allowImages: true })).toBeUndefined();
      expect(sniffContentType(Buffer.from('GIF88a\x00', 'latin1'), { allowImages: true })).toBe(
        undefined,
      );
      expect(
        sniffContentType(Buffer.from('MZ\x90\x00\x03\x00', 'latin1'), { allowImages: true }),
      ).toBeUndefined();
      expect(isImageMime(MIME.csv)).toBe(false);
    });
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
