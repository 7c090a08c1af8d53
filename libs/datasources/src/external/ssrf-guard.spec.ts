import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import {
  ExternalFetchError,
  type ResolvedAddress,
  SsrfGuard,
  refusedAddressReason,
} from './ssrf-guard';

/** the only names tests resolve; nothing here ever reaches a real DNS server or the internet */
const FAKE_DNS: Record<string, ResolvedAddress[]> = {
  'public.test': [{ address: '127.0.0.1', family: 4 }], // "public" only through the test hook below
  'other.test': [{ address: '127.0.0.1', family: 4 }],
  'internal.test': [{ address: '10.1.2.3', family: 4 }],
  'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  'mixed.test': [
    { address: '93.184.216.34', family: 4 },
    { address: '192.168.1.1', family: 4 },
  ],
  'v6local.test': [{ address: 'fd00:ec2::254', family: 6 }],
  'v4compat.test': [{ address: '::127.0.0.1', family: 6 }],
  localhost: [{ address: '127.0.0.1', family: 4 }],
};
const resolve = (host: string) =>
  FAKE_DNS[host] ? Promise.resolve(FAKE_DNS[host]) : Promise.reject(new Error(`ENOTFOUND ${host}`));

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ExternalFetchError);
    return (err as ExternalFetchError).reason;
  }
  throw new Error('expected the fetch to fail');
}

describe('refusedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['169.254.169.254', 'linkLocal'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'rfc6052'],
    ['2002:a00:1::', '6to4'],
    ['ff02::1', 'multicast'],
    // IPv4-compatible (::/96): the dotted form must not be read as IPv4-mapped
    ['::127.0.0.1', 'ipv4Compatible'],
    ['::7f00:1', 'ipv4Compatible'],
    ['::8.8.8.8', 'ipv4Compatible'],
    ['::a9fe:a9fe', 'ipv4Compatible'],
    ['[::169.254.169.254]', 'ipv4Compatible'],
    ['0:0:0:0:0:0:a00:1', 'ipv4Compatible'],
    ['::ffff:0:8.8.8.8', 'rfc6145'],
    ['64:ff9b::8.8.8.8', 'rfc6052'],
    ['64:ff9b:1::a00:1', 'rfc6052'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['::FFFF:7F00:1', 'loopback'],
  ])('refuses %s (%s)', (ip, why) => {
    expect(refusedAddressReason(ip)).toBe(why);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows public %s',
    (ip) => {
      expect(refusedAddressReason(ip)).toBeNull();
    },
  );
});

describe('refusedAddressReason over every IPv4 address embedded in IPv6', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const v4 = fc.tuple(octet, octet, octet, octet);
  const dotted = (q: number[]) => q.join('.');
  const hex = (q: number[]) =>
    `${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;

  it('refuses IPv4-compatible, NAT64, 6to4 and Teredo forms of any IPv4 address', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 0xffff }), (q, tail) => {
        for (const ip of [`::${dotted(q)}`, `::${hex(q)}`, `[::${dotted(q)}]`])
          expect(refusedAddressReason(ip)).not.toBeNull();
        expect(refusedAddressReason(`64:ff9b::${dotted(q)}`)).toBe('rfc6052');
        expect(refusedAddressReason(`2002:${hex(q)}::${tail.toString(16)}`)).toBe('6to4');
        expect(refusedAddressReason(`2001:0:${hex(q)}::${tail.toString(16)}`)).toBe('teredo');
      }),
    );
  });

  it('judges an IPv4-mapped address exactly like its IPv4 address, in dotted and hex form', () => {
    fc.assert(
      fc.property(v4, (q) => {
        const plain = refusedAddressReason(dotted(q));
        expect(refusedAddressReason(`::ffff:${dotted(q)}`)).toBe(plain);
        expect(refusedAddressReason(`::ffff:${hex(q)}`)).toBe(plain);
      }),
    );
  });
});

describe('SsrfGuard', () => {
  let server: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/ok':
          res
            .writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
            .end('hello from the source');
          return;
        case '/redirect-private':
          res.writeHead(302, { location: 'http://10.0.0.1/admin' }).end();
          return;
        case '/redirect-metadata-name':
          res.writeHead(301, { location: `http://metadata.test:${port}/latest/meta-data/` }).end();
          return;
        case '/redirect-other':
          res.writeHead(307, { location: `http://other.test:${port}/echo` }).end();
          return;
        case '/redirect-same':
          res.writeHead(307, { location: '/echo' }).end();
          return;
        case '/redirect-ok':
          res.writeHead(302, { location: `http://public.test:${port}/ok` }).end();
          return;
        case '/loop':
          res.writeHead(302, { location: '/loop' }).end();
          return;
        case '/big':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('x'.repeat(200_000));
          return;
        case '/png':
          res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(10));
          return;
        case '/slow':
          return; // never answers
        case '/echo': {
          let body = '';
          req.on('data', (c: Buffer) => (body += c.toString()));
          req.on('end', () =>
            res.writeHead(200, { 'content-type': 'application/json' }).end(
              JSON.stringify({
                method: req.method,
                url: req.url,
                auth: req.headers.authorization ?? null,
                body,
              }),
            ),
          );
          return;
        }
        default:
          res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const strict = () => new SsrfGuard({ resolve });
  // TEST ONLY: 127.0.0.1 passes, so `public.test` stands in for a public host
  const testing = (o: ConstructorParameters<typeof SsrfGuard>[0] = {}) =>
    new SsrfGuard({ resolve, unsafeAllowAddressForTests: (ip) => ip === '127.0.0.1', ...o });

  it('refuses the battery of internal targets, literal or by name, before any byte is sent', async () => {
    const before = hits;
    const targets = [
      `http://127.0.0.1:${port}/ok`,
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${port}/ok`,
      `http://[::ffff:127.0.0.1]:${port}/ok`,
      `http://[::ffff:7f00:1]:${port}/ok`,
      `http://[::127.0.0.1]:${port}/ok`, // IPv4-compatible
      `http://[::7f00:1]:${port}/ok`,
      'http://[::a9fe:a9fe]/', // IPv4-compatible metadata address
      'http://[64:ff9b::a9fe:a9fe]/', // NAT64
      'http://[2002:a9fe:a9fe::1]/', // 6to4
      `http://v4compat.test:${port}/ok`,
      'http://0.0.0.0/',
      `http://2130706433:${port}/ok`, // 127.0.0.1 in decimal
      `http://0x7f.1:${port}/ok`,
      'http://100.100.100.200/', // CGNAT (Alibaba metadata)
      'http://[fd00:ec2::254]/', // AWS IPv6 metadata
      'http://[fe80::1]/',
      'http://224.0.0.1/',
      `http://localhost:${port}/ok`,
      `http://internal.test:${port}/ok`,
      `http://metadata.test/`,
      `http://mixed.test/`,
      `http://v6local.test/`,
    ];
    for (const t of targets)
      expect([t, await reason(strict().fetch(t))]).toEqual([t, 'blocked_address']);
    expect(hits).toBe(before);
  });

  it('refuses non-http schemes and credentials in URLs', async () => {
    for (const t of [
      'file:///etc/passwd',
      'ftp://public.test/',
      'gopher://public.test/',
      'http://user:pw@public.test/',
    ])
      expect(await reason(strict().fetch(t))).toBe('bad_url');
  });

  it('fetches from an allowed address (test hook) and returns text', async () => {
    const res = await testing().fetch(`http://public.test:${port}/ok`);
    expect(res).toMatchObject({ status: 200, contentType: 'text/plain' });
    expect(res.body.toString()).toBe('hello from the source');
  });

  it('re-checks every redirect hop: to a private literal or a name of a private address', async () => {
    const before = hits;
    expect(await reason(testing().fetch(`http://public.test:${port}/redirect-private`))).toBe(
      'blocked_address',
    );
    expect(await reason(testing().fetch(`http://public.test:${port}/redirect-metadata-name`))).toBe(
      'blocked_address',
    );
    expect(hits).toBe(before + 2); // only the first hops reached the server
    const ok = await testing().fetch(`http://public.test:${port}/redirect-ok`);
    expect(ok.url).toBe(`http://public.test:${port}/ok`);
  });

  it("sends the caller's headers to the original origin only, not to a redirect elsewhere", async () => {
    const headers = { authorization: 'Bearer secret' };
    const same = await testing().fetch(`http://public.test:${port}/redirect-same`, { headers });
    expect(JSON.parse(same.body.toString())).toMatchObject({ auth: 'Bearer secret' });
    const other = await testing().fetch(`http://public.test:${port}/redirect-other`, { headers });
    expect(JSON.parse(other.body.toString())).toMatchObject({ auth: null });
  });

  it('stops after the redirect limit', async () => {
    expect(
      await reason(testing({ maxRedirects: 3 }).fetch(`http://public.test:${port}/loop`)),
    ).toBe('too_many_redirects');
  });

  it('caps the response size, refuses other content types and times out', async () => {
    expect(
      await reason(testing({ maxBytes: 100_000 }).fetch(`http://public.test:${port}/big`)),
    ).toBe('too_large');
    expect(await reason(testing().fetch(`http://public.test:${port}/png`))).toBe('content_type');
    expect(
      await reason(testing({ totalTimeoutMs: 150 }).fetch(`http://public.test:${port}/slow`)),
    ).toBe('timeout');
  });

  it('fails unknown names as dns errors', async () => {
    expect(await reason(strict().fetch('http://nowhere.test/'))).toBe('dns');
  });
});
