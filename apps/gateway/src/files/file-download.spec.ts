import { once } from 'node:events';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { Logger } from '@nestjs/common';
import type { FileRecord } from '@switchboard/datasources';
import fc from 'fast-check';
import { contentDisposition, downloadHeaders, sendFileContent } from './file-download';

const file = (over: Partial<FileRecord> = {}): FileRecord => ({
  id: 'f1',
  ownerUserId: 'alice',
  owned: true,
  name: 'report.csv',
  mime: 'text/csv',
  size: 6,
  sha256: '0'.repeat(64),
  status: 'ready',
  error: null,
  tags: [],
  sharedAccountIds: [],
  createdAt: new Date(0),
  updatedAt: new Date(0),
  ...over,
});

/** the exact name a client recovers from `filename*` */
function extendedName(header: string): string {
  const m = /filename\*=UTF-8''([^;\s]*)$/.exec(header);
  if (!m) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(m[1]);
}

describe('contentDisposition', () => {
  it('gives plain names as they are, in both forms', () => {
    expect(contentDisposition('report.csv')).toBe(
      `attachment; filename="report.csv"; filename*=UTF-8''report.csv`,
    );
  });

  it('keeps quotes, backslashes, percent signs and path parts out of the quoted fallback', () => {
    const h = contentDisposition('a "quoted" \\ 100%/../x.png');
    expect(h).toMatch(/^attachment; filename="a _quoted_ _ 100__.._x.png"; filename\*=UTF-8''/);
    expect(extendedName(h)).toBe('a "quoted" \\ 100%/../x.png');
  });

  it('carries unicode names exactly in filename* with an ASCII fallback', () => {
    const h = contentDisposition('Zürich – 報告 📈.xlsx');
    expect(h).toContain('filename="Z_rich _ __ __.xlsx"');
    expect(h).toContain(
      `filename*=UTF-8''Z%C3%BCrich%20%E2%80%93%20%E5%A0%B1%E5%91%8A%20%F0%9F%93%88.xlsx`,
    );
    expect(extendedName(h)).toBe('Zürich – 報告 📈.xlsx');
  });

  it('escapes the characters RFC 5987 does not allow bare', () => {
    expect(contentDisposition("it's (1)*.txt")).toContain(
      `filename*=UTF-8''it%27s%20%281%29%2A.txt`,
    );
  });

  it('is a valid header value for any name, and filename* round-trips it', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (name) => {
        const h = contentDisposition(name);
        // visible ASCII and spaces only: no CR/LF, no control characters, no raw UTF-8
        expect(h).toMatch(/^[\x20-\x7e]+$/);
        const fallback = /filename="([^"]*)"; filename\*/.exec(h)?.[1];
        expect(fallback).toBeDefined();
        expect(fallback).not.toMatch(/["\\%/]/);
        const wellFormed = name.replace(/\p{Cs}/gu, '\uFFFD') || 'download';
        expect(extendedName(h)).toBe(wellFormed);
      }),
    );
  });
});

describe('sendFileContent (over a real HTTP server)', () => {
  let server: Server;
  let url: string;
  let handler: (res: ServerResponse) => Promise<void>;
  let handled: Promise<unknown>;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      handled = handler(res).then(
        () => 'ok',
        (err: unknown) => {
          res.statusCode = 500;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ error: (err as Error).message }));
          return err;
        },
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('sends the bytes with the download headers', async () => {
    handler = (res) => sendFileContent(res, file(), Readable.from([Buffer.from('a,b\n1,')]));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Object.fromEntries(res.headers)).toMatchObject(downloadHeaders(file()));
    expect(await res.text()).toBe('a,b\n1,');
    expect(await handled).toBe('ok');
  });

  it('destroys the body when the client goes away mid-download', async () => {
    const body = new PassThrough();
    body.write(Buffer.alloc(64 * 1024, 1));
    handler = (res) => sendFileContent(res, file({ size: 10 * 1024 * 1024 }), body);
    const req = request(url);
    req.end();
    const [res] = (await once(req, 'response')) as [Readable];
    await once(res, 'data');
    req.destroy();
    expect(await handled).toBe('ok');
    expect(body.destroyed).toBe(true);
  });

  it('destroys the body when the response was already closed before it started', async () => {
    const body = new PassThrough();
    body.write('never sent');
    handler = async (res) => {
      res.destroy();
      await sendFileContent(res, file(), body);
    };
    await expect(fetch(url)).rejects.toThrow();
    expect(await handled).toBe('ok');
    expect(body.destroyed).toBe(true);
  });

  it('rethrows a storage failure before the first byte without the download headers', async () => {
    const body = new Readable({
      read() {
        this.destroy(new Error('storage read failed'));
      },
    });
    handler = (res) => sendFileContent(res, file(), body);
    const res = await fetch(url);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(await res.json()).toEqual({ error: 'storage read failed' });
  });

  it('cuts the response short on a storage failure after the first byte', async () => {
    const body = new PassThrough();
    body.write('a,b\n');
    handler = (res) => sendFileContent(res, file({ size: 100 }), body);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      // the head and the first bytes are out: now the storage read fails
      body.destroy(new Error('storage read failed'));
      await expect(res.text()).rejects.toThrow();
      expect(await handled).toBe('ok');
      expect(warn).toHaveBeenCalledWith('download of file f1 cut short: storage read failed');
    } finally {
      warn.mockRestore();
    }
  });
});
