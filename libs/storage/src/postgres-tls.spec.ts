import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { PostgresDatabase } from './postgres.database';
import { postgresConnectionOptions, RDS_CA_BUNDLE } from './postgres-tls';

/** PostgreSQL's SSLRequest code (protocol 1234.5679). */
const SSL_REQUEST = 80877103;

describe('postgresConnectionOptions', () => {
  it('takes the TLS parameters out of the URL and keeps the rest', () => {
    const o = postgresConnectionOptions(
      'postgres://u:p@db.example.com:5432/app?sslmode=verify-full&application_name=gw',
    );
    expect(o.connectionString).toBe('postgres://u:p@db.example.com:5432/app?application_name=gw');
    expect(o.sslmode).toBe('verify-full');
    expect(o.ssl).toMatchObject({ rejectUnauthorized: true });
  });

  it('verifies against the RDS bundle (every region, current roots) plus the system roots', () => {
    const o = postgresConnectionOptions('postgres://h/db?sslmode=verify-full');
    const ca = (o.ssl as { ca: string[] }).ca;
    const subjects = RDS_CA_BUNDLE.map((pem) => new X509Certificate(pem).subject);
    for (const region of ['eu-west-1', 'us-east-1'])
      expect(
        subjects.some((s) => s.split('\n').includes(`CN=Amazon RDS ${region} Root CA RSA2048 G1`)),
      ).toBe(true);
    expect(ca).toEqual(expect.arrayContaining([...RDS_CA_BUNDLE]));
    expect(ca.length).toBeGreaterThan(RDS_CA_BUNDLE.length);
  });

  it.each([
    ['postgres://h/db', 'disable', false],
    ['postgres://h/db?sslmode=disable', 'disable', false],
    ['postgres://h/db?sslmode=require', 'require', { rejectUnauthorized: false }],
    ['postgres://h/db?sslmode=no-verify', 'no-verify', { rejectUnauthorized: false }],
  ])('%s -> %s', (url, mode, ssl) => {
    const o = postgresConnectionOptions(url);
    expect(o.sslmode).toBe(mode);
    expect(o.ssl).toEqual(ssl);
  });

  it.each(['prefer', 'allow', 'verify', ''])('refuses sslmode=%s', (mode) => {
    expect(() => postgresConnectionOptions(`postgres://h/db?sslmode=${mode}`)).toThrow(
      /sslmode=.* is not supported/,
    );
  });
});

/**
 * A PostgreSQL endpoint that answers the SSLRequest and completes a TLS handshake with a
 * self-signed certificate for `localhost`, then hangs up: enough to see what the client
 * verified, without a TLS-enabled server.
 */
describe('PostgresDatabase TLS against a server with an untrusted certificate', () => {
  let dir: string;
  let server: Server;
  let port: number;
  const seen: ('tls' | 'plain')[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-pgtls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(join(dir, 'key.pem'));
    const cert = readFileSync(join(dir, 'cert.pem'));
    server = createServer((socket: Socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (first: Buffer) => {
        if (first.length < 8 || first.readInt32BE(4) !== SSL_REQUEST) {
          seen.push('plain');
          socket.destroy();
          return;
        }
        socket.write('S');
        const tls = new TLSSocket(socket, { isServer: true, key, cert });
        tls.on('error', () => undefined);
        // The client's StartupMessage arriving encrypted means the handshake succeeded.
        tls.once('data', () => {
          seen.push('tls');
          tls.destroy();
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => void (seen.length = 0));
  // connect() makes two attempts (extension install, then its check): compare the kinds.
  const kinds = () => [...new Set(seen)];

  const connect = (host: string, query: string) =>
    PostgresDatabase.connect({
      url: `postgres://u:p@${host}:${port}/db?${query}`,
      connectionTimeoutMs: 5000,
    });

  it('verify-full with the shipped bundle refuses a certificate no trusted CA signed', async () => {
    await expect(connect('localhost', 'sslmode=verify-full')).rejects.toThrow(/self[- ]signed/i);
    expect(seen).toEqual([]);
  });

  it('verify-full accepts the server once its CA is trusted (sslrootcert)', async () => {
    const err = await connect(
      'localhost',
      `sslmode=verify-full&sslrootcert=${join(dir, 'cert.pem')}`,
    ).catch((e: Error) => e);
    // The handshake completed; the fake server then hung up.
    expect(kinds()).toEqual(['tls']);
    expect(err instanceof Error ? err.message : 'connected').not.toMatch(
      /certificate|self[- ]signed|altname/i,
    );
  });

  it('verify-full refuses a trusted certificate issued for another host name', async () => {
    await expect(
      connect('127.0.0.1', `sslmode=verify-full&sslrootcert=${join(dir, 'cert.pem')}`),
    ).rejects.toThrow(/Hostname\/IP does not match|altnames/i);
    expect(seen).toEqual([]);
  });

  it('verify-ca checks the chain but not the host name', async () => {
    await connect('127.0.0.1', `sslmode=verify-ca&sslrootcert=${join(dir, 'cert.pem')}`).catch(
      () => undefined,
    );
    expect(kinds()).toEqual(['tls']);
  });

  it('require encrypts without verifying; disable never asks for TLS', async () => {
    await connect('localhost', 'sslmode=require').catch(() => undefined);
    expect(kinds()).toEqual(['tls']);
    seen.length = 0;
    await connect('localhost', 'sslmode=disable').catch(() => undefined);
    expect(kinds()).toEqual(['plain']);
  });
});
