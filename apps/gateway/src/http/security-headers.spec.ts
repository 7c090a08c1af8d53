import helmet, { type HelmetOptions } from 'helmet';
import express, { type RequestHandler } from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { securityHeaders } from './security-headers';

/** the response headers of GET / through `mw` on a real server */
async function headersThrough(mw: RequestHandler, path = '/'): Promise<Record<string, string>> {
  const app = express();
  app.set('x-powered-by', true);
  app.use(mw);
  app.get(/.*/, (_req, res) => void res.send('ok'));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (!['date', 'etag', 'content-length', 'connection', 'keep-alive'].includes(k)) out[k] = v;
    });
    return out;
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe('securityHeaders', () => {
  const gatewayOptions: HelmetOptions = {
    contentSecurityPolicy: false,
    crossOriginResourcePolicy: false,
  };

  it("sets exactly helmet's headers (and removes X-Powered-By) from a list made once", async () => {
    const prebuilt = securityHeaders(gatewayOptions);
    const expected = await headersThrough(helmet(gatewayOptions));
    expect(expected['strict-transport-security']).toBeDefined();
    expect(expected['x-powered-by']).toBeUndefined();
    expect(await headersThrough(prebuilt)).toEqual(expected);
    expect(await headersThrough(prebuilt, '/other?x=1')).toEqual(expected);
  });

  it('keeps helmet per request when its headers depend on the request', async () => {
    const options: HelmetOptions = {
      contentSecurityPolicy: {
        directives: { defaultSrc: ["'self'"], scriptSrc: [(req) => `'nonce-${req.url?.length}'`] },
      },
    };
    const mw = securityHeaders(options);
    const a = await headersThrough(mw, '/a');
    const b = await headersThrough(mw, '/abcdef');
    expect(a['content-security-policy']).toContain("'nonce-2'");
    expect(b['content-security-policy']).toContain("'nonce-7'");
  });
});
