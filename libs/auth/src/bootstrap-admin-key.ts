import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { looksLikeApiKey } from './identity/api-key.format';

const FILE = 'bootstrap-admin-key.json';

function sha256(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/**
 * The bootstrap admin key: ADMIN_API_KEY when set, otherwise generated at first
 * boot, shown once, and kept only as a SHA-256 hash under DATA_DIR. A hash without
 * a secret is enough here: the key is 256 random bits, not a password.
 */
export class BootstrapAdminKey {
  /**
   * `apiKeyShaped`: whether the key itself has an API key's shape. When it has not, a
   * token that has one cannot be this key and skips its hash (the shape is public).
   */
  private constructor(
    private readonly hash: Buffer,
    private readonly apiKeyShaped: boolean,
  ) {}

  static fromPlaintext(key: string): BootstrapAdminKey {
    return new BootstrapAdminKey(sha256(key), looksLikeApiKey(key));
  }

  /** Loads the stored hash, or creates a key; `generated` is the plaintext to show once. */
  static async loadOrCreate(
    dataDir: string,
  ): Promise<{ key: BootstrapAdminKey; generated?: string }> {
    const path = join(dataDir, FILE);
    try {
      const stored = JSON.parse(await readFile(path, 'utf8')) as { sha256?: string };
      if (typeof stored.sha256 === 'string' && /^[0-9a-f]{64}$/.test(stored.sha256))
        // only a generated key is stored, and `sb_admin_…` never has an API key's shape
        return { key: new BootstrapAdminKey(Buffer.from(stored.sha256, 'hex'), false) };
      throw new Error(`${path} is corrupt; delete it to generate a new bootstrap admin key`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    // `admin` is not an 8-character key prefix: never an API key's shape (see matches)
    const plaintext = `sb_admin_${randomBytes(32).toString('base64url')}`;
    const hash = sha256(plaintext);
    await mkdir(dataDir, { recursive: true });
    // 'wx' fails if another process created it first: then use theirs.
    try {
      await writeFile(
        path,
        JSON.stringify({ sha256: hash.toString('hex'), createdAt: new Date().toISOString() }),
        {
          mode: 0o600,
          flag: 'wx',
        },
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST')
        return BootstrapAdminKey.loadOrCreate(dataDir);
      throw e;
    }
    return { key: new BootstrapAdminKey(hash, looksLikeApiKey(plaintext)), generated: plaintext };
  }

  matches(candidate: string): boolean {
    if (!this.apiKeyShaped && looksLikeApiKey(candidate)) return false;
    return timingSafeEqual(sha256(candidate), this.hash);
  }
}
