import express, { type NextFunction, type Request, type Response } from 'express';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { isPlainJson, jsonBody } from './json-body';

const LIMIT = 1024;

/** An app that answers with what it parsed, or the body-parser error type and status. */
function app(withLeanReader: boolean) {
  const a = express();
  if (withLeanReader) a.use(jsonBody(LIMIT));
  a.use(express.json({ limit: LIMIT, strict: true }));
  a.post('/echo', (req: Request, res: Response) => {
    res.json({ body: req.body as unknown });
  });
  a.use(
    (err: { type?: string; status?: number }, _req: Request, res: Response, _n: NextFunction) => {
      res.status(err.status ?? 500).json({ error: err.type ?? 'unknown' });
    },
  );
  return a;
}

interface Sent {
  headers: Record<string, string>;
  body: Buffer | Buffer[];
}

function send(server: Server, sent: Sent): Promise<{ status: number; text: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: sent.headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    for (const part of Array.isArray(sent.body) ? sent.body : [sent.body]) req.write(part);
    req.end();
  });
}

const json = (text: string, extra: Record<string, string> = {}): Sent => ({
  headers: {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...extra,
  },
  body: Buffer.from(text),
});

const cases: Array<[string, Sent]> = [
  ['an object', json('{"a":1,"b":[true,null,"é"]}')],
  ['an array', json(' [1,2]')],
  ['an empty body', json('')],
  ['a body with a byte order mark', json('\uFEFF{"a":1}')],
  ['malformed JSON', json('{"a":')],
  ['a bare string (strict)', json('"text"')],
  ['only whitespace', json('   ')],
  ['charset=utf-8', json('{"a":2}', { 'content-type': 'application/json; charset=utf-8' })],
  ['a declared size over the limit', json(`{"a":"${'x'.repeat(LIMIT)}"}`)],
  [
    'a chunked body that grows past the limit',
    {
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: [Buffer.from('{"a":"'), Buffer.from('x'.repeat(LIMIT)), Buffer.from('"}')],
    },
  ],
  [
    'a chunked body within the limit, split inside a UTF-8 character',
    {
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: [Buffer.from('{"a":"'), Buffer.from([0xc3]), Buffer.from([0xa9]), Buffer.from('"}')],
    },
  ],
  [
    'a gzip body (left to express.json)',
    {
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': String(gzipSync('{"z":1}').length),
      },
      body: gzipSync('{"z":1}'),
    },
  ],
  [
    'a UTF-16 charset (left to express.json)',
    {
      headers: {
        'content-type': 'application/json; charset=utf-16le',
        'content-length': String(Buffer.from('{"u":1}', 'utf16le').length),
      },
      body: Buffer.from('{"u":1}', 'utf16le'),
    },
  ],
  ['another media type (not parsed)', json('{"a":1}', { 'content-type': 'text/plain' })],
];

describe('jsonBody', () => {
  let lean: Server;
  let reference: Server;
  beforeAll(async () => {
    lean = app(true).listen(0, '127.0.0.1');
    reference = app(false).listen(0, '127.0.0.1');
    await Promise.all([lean, reference].map((s) => new Promise((r) => s.once('listening', r))));
  });
  afterAll(async () => {
    await Promise.all([lean, reference].map((s) => new Promise((r) => s.close(r))));
  });

  it.each(cases)('answers %s exactly as express.json does', async (_name, sent) => {
    const [got, want] = await Promise.all([send(lean, sent), send(reference, sent)]);
    expect(got).toEqual(want);
  });

  it('refuses the bodies a hostile client would send with the same codes', async () => {
    const tooBig = await send(lean, json(`{"a":"${'x'.repeat(LIMIT)}"}`));
    expect(tooBig).toEqual({ status: 413, text: '{"error":"entity.too.large"}' });
    const scalar = await send(lean, json('1'));
    expect(scalar).toEqual({ status: 400, text: '{"error":"entity.parse.failed"}' });
  });
});

describe('isPlainJson', () => {
  // what express's req.is('application/json') (type-is) says of each content type
  let server: Server;
  beforeAll(async () => {
    const a = express();
    a.post('/is', (req: Request, res: Response) => {
      res.json({ is: req.is('application/json') !== false });
    });
    server = a.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const typeIs = (contentType: string): Promise<boolean> => {
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/is',
          method: 'POST',
          headers: { 'content-type': contentType },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve((JSON.parse(text) as { is: boolean }).is));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
  };

  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['APPLICATION/JSON; Charset=UTF-8', true],
    ['application/json ; charset=utf-8', true],
    ['application/json;charset="utf-8"', true],
    ['application/json;', true],
    ['application/json; charset', false],
    ['application/json; charset=utf-16le', false],
    ['application/json; charset=utf-8; x=1', false],
    ['application/jsonx', false],
    ['text/json', false],
    ['application/json, text/plain', false],
  ])('%s: %s, and type-is accepts every type it accepts', async (type, plain) => {
    expect(isPlainJson(type)).toBe(plain);
    if (plain) expect(await typeIs(type)).toBe(true);
  });
});
