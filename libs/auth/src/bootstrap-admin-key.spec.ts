import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootstrapAdminKey } from './bootstrap-admin-key';
import { Authenticator } from './authenticator';
import { generateApiKey, looksLikeApiKey } from './identity/api-key.format';

describe('BootstrapAdminKey', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'sb-admin-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('generates a key once, stores only its hash, and accepts it after a restart', async () => {
    const first = await BootstrapAdminKey.loadOrCreate(dir);
    expect(first.generated).toMatch(/^sb_admin_/);
    const stored = await readFile(join(dir, 'bootstrap-admin-key.json'), 'utf8');
    expect(stored).not.toContain(first.generated!);
    const second = await BootstrapAdminKey.loadOrCreate(dir);
    expect(second.generated).toBeUndefined();
    expect(second.key.matches(first.generated!)).toBe(true);
    expect(second.key.matches(first.generated! + 'x')).toBe(false);
  });

  it("an admin key that has an API key's shape is still the admin key; API keys are not", async () => {
    const shaped = generateApiKey().key;
    const auth = new Authenticator(BootstrapAdminKey.fromPlaintext(shaped));
    await expect(auth.authenticate(`Bearer ${shaped}`)).resolves.toMatchObject({
      kind: 'bootstrap-admin',
    });
    await expect(auth.authenticate(`Bearer ${generateApiKey().key}`)).rejects.toMatchObject({
      code: 'unauthorized',
    });
    // a generated key never has that shape, so API keys skip its hash
    const { generated } = await BootstrapAdminKey.loadOrCreate(dir);
    expect(looksLikeApiKey(generated!)).toBe(false);
  });

  it('authenticates the admin key with every scope and rejects anything else as unauthorized', async () => {
    const auth = new Authenticator(BootstrapAdminKey.fromPlaintext('k'.repeat(20)));
    await expect(auth.authenticate(`Bearer ${'k'.repeat(20)}`)).resolves.toMatchObject({
      kind: 'bootstrap-admin',
      scopes: ['chat', 'embeddings', 'files', 'admin'],
    });
    for (const h of [undefined, '', 'Basic abc', 'Bearer', `Bearer ${'k'.repeat(19)}`])
      await expect(auth.authenticate(h)).rejects.toMatchObject({
        code: 'unauthorized',
        status: 401,
      });
  });
});
