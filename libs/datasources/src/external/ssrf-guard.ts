import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export type ExternalFetchFailure =
  | 'bad_url'
  | 'blocked_address'
  | 'dns'
  | 'timeout'
  | 'too_large'
  | 'content_type'
  | 'too_many_redirects'
  | 'http_status'
  | 'network'
  | 'aborted';

/** Why an external fetch was refused or failed; `message` is safe to log, not to show verbatim to end users. */
export class ExternalFetchError extends Error {
  constructor(
    readonly reason: ExternalFetchFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExternalFetchError';
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface SsrfGuardOptions {
  /** DNS resolution (default: the system resolver, all addresses) */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  /** ms to establish the TCP/TLS connection (default 5 s) */
  connectTimeoutMs?: number;
  /** ms for the whole exchange, redirects included (default 15 s) */
  totalTimeoutMs?: number;
  /** response body cap (default 2 MiB) */
  maxBytes?: number;
  /** redirects followed at most (default 3), each re-checked */
  maxRedirects?: number;
  /** media types accepted (default text/*-like and JSON/XML) */
  allowedContentTypes?: string[];
  /**
   * TEST ONLY: addresses allowed although the policy refuses them (e.g. the
   * loopback test server behind a fake public name). Never set in production.
   */
  unsafeAllowAddressForTests?: (ip: string) => boolean;
}

export interface GuardedRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  /** the final URL after redirects */
  url: string;
  contentType: string;
  body: Buffer;
}

const DEFAULT_TYPES = [
  'text/plain',
  'text/html',
  'text/markdown',
  'text/csv',
  'application/json',
  'application/xml',
  'text/xml',
  'application/rss+xml',
  'application/atom+xml',
];

/**
 * Why an address is refused, or null when it is a public unicast address. Only
 * `unicast` passes: loopback, private (RFC 1918), CGNAT, link-local (cloud
 * metadata 169.254.169.254 included), unique-local (fc00::/7, AWS's fd00:ec2::254),
 * multicast, unspecified, reserved, broadcast, and the IPv6 forms that embed an
 * IPv4 address are refused: IPv4-compatible `::a.b.c.d` (::/96, deprecated by
 * RFC 4291), IPv4-translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96 and
 * 64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32). An IPv4-mapped
 * address (::ffff:a.b.c.d) connects to its IPv4 address, so it is judged by it.
 */
export function refusedAddressReason(ip: string): string | null {
  const addr = parseAddress(ip);
  if (!addr) return 'not an IP address';
  if (addr.kind() === 'ipv4') return verdict(addr.range());
  const v6 = addr as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return verdict(v6.toIPv4Address().range());
  const range = v6.range();
  if (range !== 'unicast') return range;
  // ::/96 apart from :: and ::1 (named above): ipaddr.js has no name for it
  if (v6.parts.slice(0, 6).every((p) => p === 0)) return 'ipv4Compatible';
  return null;
}

function verdict(range: string): string | null {
  return range === 'unicast' ? null : range;
}

/**
 * Parses an address the way the socket layer will read it. IPv6 goes through
 * the WHATWG URL parser first, which serialises every form to hex groups:
 * ipaddr.js reads the dotted tail of `::a.b.c.d` as if it were `::ffff:a.b.c.d`,
 * which would turn an IPv4-compatible address into a mapped one.
 */
function parseAddress(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = ip
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  try {
    if (bare.includes(':')) {
      const host = new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, '');
      return ipaddr.IPv6.parse(host);
    }
    return ipaddr.IPv4.parse(bare);
  } catch {
    return undefined;
  }
}

/**
 * Fetches URLs on behalf of users without letting them reach the inside of the
 * network. DNS is resolved here and the connection goes to the very address
 * that was checked (a `lookup` override), so a name cannot resolve to a public
 * address for the check and a private one for the connection (DNS rebinding).
 * Every redirect hop is checked again.
 */
export class SsrfGuard {
  readonly #resolve: (hostname: string) => Promise<ResolvedAddress[]>;
  readonly #connectTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  readonly #maxBytes: number;
  readonly #maxRedirects: number;
  readonly #types: Set<string>;
  readonly #allowForTests?: (ip: string) => boolean;

  constructor(options: SsrfGuardOptions = {}) {
    this.#resolve =
      options.resolve ??
      (async (host) => (await dnsLookup(host, { all: true, verbatim: true })) as ResolvedAddress[]);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.#totalTimeoutMs = options.totalTimeoutMs ?? 15_000;
    this.#maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
    this.#maxRedirects = options.maxRedirects ?? 3;
    this.#types = new Set(
      (options.allowedContentTypes ?? DEFAULT_TYPES).map((t) => t.toLowerCase()),
    );
    this.#allowForTests = options.unsafeAllowAddressForTests;
  }

  /** @throws ExternalFetchError */
  async fetch(url: string, req: GuardedRequest = {}): Promise<GuardedResponse> {
    const signals = [AbortSignal.timeout(this.#totalTimeoutMs)];
    if (req.signal) signals.push(req.signal);
    const signal = AbortSignal.any(signals);
    let current = this.parseUrl(url);
    const origin = current.origin;
    let method = req.method ?? 'GET';
    let body = req.body;
    for (let hop = 0; ; hop++) {
      // credentials go to the registered origin only, never to where it redirects
      const headers = current.origin === origin ? (req.headers ?? {}) : {};
      const res = await this.once(current, { method, headers, body, signal });
      const location = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
        res.resume();
        if (hop >= this.#maxRedirects)
          throw new ExternalFetchError(
            'too_many_redirects',
            `more than ${this.#maxRedirects} redirects`,
          );
        current = this.parseUrl(new URL(location, current).toString());
        if (
          res.statusCode === 303 ||
          ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')
        ) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        res.resume();
        throw new ExternalFetchError('http_status', `the source answered HTTP ${status}`);
      }
      const contentType = String(res.headers['content-type'] ?? '')
        .split(';')[0]
        .trim()
        .toLowerCase();
      if (!this.#types.has(contentType)) {
        res.destroy();
        throw new ExternalFetchError(
          'content_type',
          `content type "${contentType || 'none'}" is not allowed`,
        );
      }
      return {
        status,
        url: current.toString(),
        contentType,
        body: await this.readCapped(res, signal),
      };
    }
  }

  private parseUrl(raw: string): URL {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ExternalFetchError('bad_url', 'invalid URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new ExternalFetchError('bad_url', `scheme ${u.protocol} is not allowed`);
    if (u.username || u.password)
      throw new ExternalFetchError('bad_url', 'credentials in URLs are not allowed');
    const host = u.hostname.replace(/^\[|\]$/g, '');
    // an IP literal never reaches `lookup`: check it here (the URL parser has
    // already normalised forms like 2130706433 or 0x7f.1 to dotted quads)
    if (ipaddr.isValid(host)) this.check(host, u.hostname);
    return u;
  }

  private check(ip: string, host: string): void {
    const why = refusedAddressReason(ip);
    if (why && !this.#allowForTests?.(ip))
      throw new ExternalFetchError(
        'blocked_address',
        `${host} resolves to a ${why} address (${ip})`,
      );
  }

  private lookup(): LookupFunction {
    return (hostname, options, callback) => {
      this.#resolve(hostname).then(
        (addrs) => {
          try {
            if (addrs.length === 0)
              throw new ExternalFetchError('dns', `${hostname} has no addresses`);
            // refuse the name if ANY address is internal: mixed answers are a rebinding trick
            for (const a of addrs) this.check(a.address, hostname);
            const wanted =
              options.family === 4 || options.family === 6
                ? addrs.filter((a) => a.family === options.family)
                : addrs;
            const list = wanted.length > 0 ? wanted : addrs;
            if (options.all)
              (callback as unknown as (e: Error | null, a: ResolvedAddress[]) => void)(null, list);
            else callback(null, list[0].address, list[0].family);
          } catch (err) {
            callback(err as NodeJS.ErrnoException, '', 0);
          }
        },
        (err: unknown) =>
          callback(
            new ExternalFetchError('dns', `cannot resolve ${hostname}`, { cause: err }),
            '',
            0,
          ),
      );
    };
  }

  private once(
    url: URL,
    req: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
  ): Promise<IncomingMessage> {
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      if (req.signal.aborted) return reject(abortError(req.signal));
      const r = mod.request(
        url,
        {
          method: req.method,
          headers: {
            'user-agent': 'switchboard-datasource/1',
            accept: [...this.#types].join(', '),
            ...req.headers,
          },
          lookup: this.lookup(),
          agent: false,
          signal: req.signal,
        },
        resolve,
      );
      const connectTimer = setTimeout(
        () =>
          r.destroy(
            new ExternalFetchError('timeout', `no connection within ${this.#connectTimeoutMs} ms`),
          ),
        this.#connectTimeoutMs,
      );
      r.on('socket', (s) => {
        const done = () => clearTimeout(connectTimer);
        s.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', done);
        s.once('close', done);
      });
      r.on('response', () => clearTimeout(connectTimer));
      r.on('error', (err) => {
        clearTimeout(connectTimer);
        if (err instanceof ExternalFetchError) return reject(err);
        const cause = (err as { cause?: unknown }).cause;
        if (cause instanceof ExternalFetchError) return reject(cause);
        if (req.signal.aborted) return reject(abortError(req.signal));
        reject(new ExternalFetchError('network', `request failed: ${err.message}`, { cause: err }));
      });
      if (req.body !== undefined) r.end(req.body);
      else r.end();
    });
  }

  private async readCapped(res: IncomingMessage, signal: AbortSignal): Promise<Buffer> {
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#maxBytes) {
      res.destroy();
      throw new ExternalFetchError(
        'too_large',
        `response of ${declared} bytes exceeds ${this.#maxBytes}`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res) {
        size += (chunk as Buffer).length;
        if (size > this.#maxBytes) {
          res.destroy();
          throw new ExternalFetchError('too_large', `response exceeds ${this.#maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof ExternalFetchError) throw err;
      if (signal.aborted) throw abortError(signal);
      throw new ExternalFetchError(
        'network',
        `reading the response failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return Buffer.concat(chunks);
  }
}

function abortError(signal: AbortSignal): ExternalFetchError {
  const reason: unknown = signal.reason;
  const isTimeout = reason instanceof DOMException && reason.name === 'TimeoutError';
  return isTimeout
    ? new ExternalFetchError('timeout', 'the source did not answer in time')
    : new ExternalFetchError('aborted', 'the request was cancelled');
}
