import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = 'api-key-secret.json';

/**
 * The API key HMAC secret for embedded mode: generated at first boot and kept
 * under DATA_DIR (mode 0600). Losing the file invalidates every API key.
 * Scale-out deployments must pass one shared secret from configuration instead,
 * or each replica would hash keys differently.
 */
export async function loadOrCreateApiKeySecret(dataDir: string): Promise<string> {
  const path = join(dataDir, FILE);
  try {
    const stored = JSON.parse(await readFile(path, 'utf8')) as { secret?: unknown };
    if (typeof stored.secret === 'string' && stored.secret.length >= 32) return stored.secret;
    throw new Error(`${path} is corrupt; restore it (deleting it invalidates every API key)`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const secret = randomBytes(32).toString('base64url');
  await mkdir(dataDir, { recursive: true });
  try {
    // 'wx': when two processes race, the loser reads the winner's secret
    await writeFile(path, JSON.stringify({ secret, createdAt: new Date().toISOString() }), {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateApiKeySecret(dataDir);
    throw e;
  }
  return secret;
}
