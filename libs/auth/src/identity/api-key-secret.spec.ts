import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateApiKeySecret } from './api-key-secret';

describe('loadOrCreateApiKeySecret', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-secret-'));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates a private secret once and returns the same one afterwards, also under a race', async () => {
    const [a, b] = await Promise.all([
      loadOrCreateApiKeySecret(dir),
      loadOrCreateApiKeySecret(dir),
    ]);
    expect(a).toBe(b);
    expect(a.length).toBeGreaterThanOrEqual(32);
    expect(await loadOrCreateApiKeySecret(dir)).toBe(a);
    expect((await stat(join(dir, 'api-key-secret.json'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'api-key-secret.json'), 'utf8')).toContain(a);
  });

  it('refuses a corrupt file instead of silently replacing the secret', async () => {
    await writeFile(join(dir, 'api-key-secret.json'), '{"secret":"short"}');
    await expect(loadOrCreateApiKeySecret(dir)).rejects.toThrow(/corrupt/);
  });
});
