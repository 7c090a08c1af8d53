import { waitFor } from '@switchboard/common/testing';
import { AppError } from '@switchboard/common';
import { SqlAccountRepository } from './account.repository';
import { AccountService } from './account.service';
import { ApiKeyError } from './api-key.errors';
import { looksLikeApiKey } from './api-key.format';
import { SqlApiKeyRepository } from './api-key.repository';
import { ApiKeyService, type ApiKeyServiceOptions } from './api-key.service';
import { DATABASES, type TestDb } from './test/identity-db';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const quiet = { warn: jest.fn() };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
  throw new Error('expected a rejection');
}

describe.each(DATABASES)('ApiKeyService on %s', (_name, open) => {
  let t: TestDb;
  let repo: SqlApiKeyRepository;
  let now: number;
  const services: ApiKeyService[] = [];

  const service = (over: Partial<ApiKeyServiceOptions> = {}) => {
    const s = new ApiKeyService(repo, {
      secret: SECRET,
      clock: () => now,
      logger: quiet,
      lastUsedFlushMs: 0,
      ...over,
    });
    services.push(s);
    return s;
  };
  const newKey = (s: ApiKeyService, over: Record<string, unknown> = {}) =>
    s.create({
      ownerUserId: 'alice',
      accountId: 'acme',
      scopes: ['chat'],
      name: 'laptop',
      ...over,
    });

  beforeAll(async () => {
    t = await open();
    repo = new SqlApiKeyRepository(t.db);
    const accounts = new AccountService(new SqlAccountRepository(t.db));
    await accounts.create({ id: 'acme', name: 'Acme' });
    await accounts.create({ id: 'globex', name: 'Globex' });
  });

  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await t.close();
  });

  it('records the minting key as parent, keeps it across rotation, and lists every key below a key', async () => {
    const s = service();
    const parent = await newKey(s);
    const child = await newKey(s, { parentKeyId: parent.record.id });
    const grandchild = await newKey(s, { parentKeyId: child.record.id });
    expect(child.record.parentKeyId).toBe(parent.record.id);
    expect((await s.get(grandchild.record.id)).parentKeyId).toBe(child.record.id);
    const rotated = await s.rotate(child.record.id, 0);
    expect(rotated.record.parentKeyId).toBe(parent.record.id);
    // what the old key minted now stands under its replacement
    expect((await s.get(grandchild.record.id)).parentKeyId).toBe(rotated.record.id);
    expect(await s.descendants(rotated.record.id)).toEqual([grandchild.record.id]);
    expect(await s.descendants(child.record.id)).toEqual([]);
    expect(new Set(await s.descendants(parent.record.id))).toEqual(
      new Set([child.record.id, grandchild.record.id, rotated.record.id]),
    );
    expect(await s.descendants(grandchild.record.id)).toEqual([]);
  });

  it('issues sb_<prefix>_<secret> once and verifies it', async () => {
    const s = service();
    const { key, record } = await newKey(s, {
      scopes: ['chat', 'embeddings'],
      limits: { requestsPerMinute: 5 },
    });
    expect(looksLikeApiKey(key)).toBe(true);
    expect(key.startsWith(`sb_${record.prefix}_`)).toBe(true);
    expect(record).not.toHaveProperty('hash');
    const verified = await s.verify(key);
    expect(verified).toMatchObject({
      id: record.id,
      ownerUserId: 'alice',
      accountId: 'acme',
      scopes: ['chat', 'embeddings'],
      limits: { requestsPerMinute: 5 },
      revokedAt: null,
    });
  });

  it('refuses unknown, malformed and wrong-secret keys with invalid_api_key', async () => {
    const s = service();
    const { key } = await newKey(s);
    const wrongSecret = key.slice(0, -4) + (key.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(await code(s.verify(wrongSecret))).toBe('invalid_api_key');
    expect(await code(s.verify('sb_ZZZZZZZZ_' + 'a'.repeat(40)))).toBe('invalid_api_key');
    expect(await code(s.verify('not a key'))).toBe('invalid_api_key');
    expect(await code(s.verify(''))).toBe('invalid_api_key');
  });

  it('never puts the key in an error', async () => {
    const s = service();
    const { key } = await newKey(s);
    await s.revoke((await s.verify(key)).id);
    const err: unknown = await s.verify(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiKeyError);
    const { message, stack } = err as ApiKeyError;
    expect(JSON.stringify({ message, stack, err })).not.toContain(key.split('_')[2]);
  });

  it('refuses a revoked key with api_key_revoked at once in the revoking process', async () => {
    const s = service();
    const { key, record } = await newKey(s);
    await s.verify(key); // now cached
    await s.revoke(record.id);
    expect(await code(s.verify(key))).toBe('api_key_revoked');
    expect(await code(s.revoke('no-such-id'))).toBe('not_found');
  });

  it('lets another replica see a revocation within the cache TTL', async () => {
    const a = service({ cacheTtlMs: 5_000 });
    const b = service({ cacheTtlMs: 5_000 });
    const { key, record } = await newKey(a);
    await b.verify(key);
    await a.revoke(record.id);
    await expect(b.verify(key)).resolves.toBeDefined(); // stale, within the documented window
    now += 5_001;
    expect(await code(b.verify(key))).toBe('api_key_revoked');
  });

  it('reads a key in use again in the background past half its TTL; requests do not wait for it', async () => {
    let gate: (() => void) | undefined;
    let reads = 0;
    const gated = Object.create(repo) as SqlApiKeyRepository;
    gated.findByPrefix = async (prefix: string) => {
      reads++;
      if (gate === undefined) await new Promise<void>((r) => (gate = r));
      return repo.findByPrefix(prefix);
    };
    const a = service({ cacheTtlMs: 5_000 });
    const b = new ApiKeyService(gated, {
      secret: SECRET,
      clock: () => now,
      logger: quiet,
      lastUsedFlushMs: 0,
      cacheTtlMs: 5_000,
    });
    services.push(b);
    const { key, record } = await newKey(a);
    const first = b.verify(key); // a miss waits for the (gated) read
    await waitFor(() => gate !== undefined);
    gate!();
    await expect(first).resolves.toMatchObject({ id: record.id });
    await a.revoke(record.id);
    now += 2_000;
    await expect(b.verify(key)).resolves.toBeDefined(); // young entry: no read
    expect(reads).toBe(1);
    now += 1_000; // past half the TTL: served from the cache, a read starts behind it
    gate = undefined;
    await expect(b.verify(key)).resolves.toMatchObject({ id: record.id });
    await expect(b.verify(key)).resolves.toBeDefined(); // one read at a time
    expect(reads).toBe(2);
    await waitFor(() => gate !== undefined);
    gate!();
    // the revocation from the other replica arrives before the TTL would have ended
    await waitFor(() =>
      b.verify(key).then(
        () => false,
        () => true,
      ),
    );
    expect(now - Date.parse('2026-01-01T00:00:00Z')).toBeLessThan(5_000);
    expect(await code(b.verify(key))).toBe('api_key_revoked');
  });

  it('refuses an expired key with api_key_expired', async () => {
    const s = service();
    const { key } = await newKey(s, { expiresAt: new Date(now + 60_000) });
    await expect(s.verify(key)).resolves.toBeDefined();
    now += 60_000;
    expect(await code(s.verify(key))).toBe('api_key_expired');
  });

  it('rotates: the new key works, the old one until its grace period ends', async () => {
    const s = service();
    const { key: oldKey, record: old } = await newKey(s, {
      scopes: ['files'],
      limits: { concurrentStreams: 2 },
    });
    const rotated = await s.rotate(old.id, 300);
    expect(rotated.key).not.toBe(oldKey);
    expect(rotated.record).toMatchObject({
      rotatedFrom: old.id,
      ownerUserId: 'alice',
      accountId: 'acme',
      scopes: ['files'],
      limits: { concurrentStreams: 2 },
    });
    expect(rotated.previous.graceUntil?.getTime()).toBe(now + 300_000);
    await expect(s.verify(oldKey)).resolves.toMatchObject({ id: old.id });
    await expect(s.verify(rotated.key)).resolves.toMatchObject({ id: rotated.record.id });
    now += 300_000;
    expect(await code(s.verify(oldKey))).toBe('api_key_revoked');
    await expect(s.verify(rotated.key)).resolves.toBeDefined();
    expect(await code(s.rotate(old.id, 60))).toBe('invalid_request');
    expect(await code(s.rotate('missing', 60))).toBe('not_found');
  });

  it('lists keys per owner, per account, or all', async () => {
    const s = service();
    const bob1 = await newKey(s, { ownerUserId: 'bob', accountId: 'globex' });
    const bob2 = await newKey(s, { ownerUserId: 'bob' });
    expect((await s.list({ ownerUserId: 'bob' })).map((k) => k.id).sort()).toEqual(
      [bob1.record.id, bob2.record.id].sort(),
    );
    expect((await s.list({ ownerUserId: 'bob', accountId: 'globex' })).map((k) => k.id)).toEqual([
      bob1.record.id,
    ]);
    const all = await s.list();
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all.every((k) => !('hash' in k))).toBe(true);
  });

  it("hides another owner's keys as not found", async () => {
    const s = service();
    const { key, record } = await newKey(s, { ownerUserId: 'dave' });
    const asErin = { ownerUserId: 'erin' };
    expect(await code(s.get(record.id, asErin))).toBe('not_found');
    expect(await code(s.revoke(record.id, asErin))).toBe('not_found');
    expect(await code(s.rotate(record.id, 0, asErin))).toBe('not_found');
    expect(await code(s.setLimits(record.id, null, asErin))).toBe('not_found');
    expect(await s.list({ ownerUserId: 'erin' })).toEqual([]);
    await expect(s.verify(key)).resolves.toMatchObject({ ownerUserId: 'dave' });
    await expect(s.get(record.id, { ownerUserId: 'dave' })).resolves.toMatchObject({
      id: record.id,
    });
  });

  it('validates scopes, limits, name and account', async () => {
    const s = service();
    expect(await code(newKey(s, { scopes: ['root'] }))).toBe('invalid_request');
    expect(await code(newKey(s, { scopes: [] }))).toBe('invalid_request');
    expect(await code(newKey(s, { limits: { requestsPerMinute: -1 } }))).toBe('invalid_request');
    expect(await code(newKey(s, { name: '' }))).toBe('invalid_request');
    expect(await code(newKey(s, { accountId: 'no-such-account' }))).toBe('invalid_request');
  });

  it('answers one frozen view per cached row: no caller can change what the next request sees', async () => {
    const s = service();
    const { key } = await newKey(s, { scopes: ['chat'], limits: { requestsPerMinute: 5 } });
    const first = await s.verify(key);
    expect(await s.verify(key)).toBe(first);
    expect(first).not.toHaveProperty('hash');
    expect(() => (first.scopes as string[]).push('admin')).toThrow(TypeError);
    expect(() => Object.assign(first.limits!, { requestsPerMinute: 1e9 })).toThrow(TypeError);
    expect(() => Object.assign(first, { accountId: 'other' })).toThrow(TypeError);
    expect(await s.verify(key)).toMatchObject({
      accountId: 'acme',
      scopes: ['chat'],
      limits: { requestsPerMinute: 5 },
    });
  });

  it('updates per-key limits and drops the cached row', async () => {
    const s = service();
    const { key, record } = await newKey(s);
    await s.verify(key);
    await s.setLimits(record.id, { tokensPerMinute: 1_000 });
    expect((await s.verify(key)).limits).toEqual({ tokensPerMinute: 1_000 });
    await s.setLimits(record.id, null);
    expect((await s.verify(key)).limits).toBeNull();
  });

  it('batches last-used writes: none per request, one statement per flush', async () => {
    const s = service();
    const spy = jest.spyOn(repo, 'touchMany');
    const findSpy = jest.spyOn(repo, 'findByPrefix');
    try {
      const { key, record } = await newKey(s);
      for (let i = 0; i < 50; i++) {
        now += 10;
        await s.verify(key);
      }
      expect(spy).not.toHaveBeenCalled();
      expect(findSpy).toHaveBeenCalledTimes(1); // the rest came from memory
      await s.flushLastUsed();
      expect(spy).toHaveBeenCalledTimes(1);
      expect((await s.get(record.id)).lastUsedAt?.getTime()).toBe(now);
      await s.flushLastUsed();
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
      findSpy.mockRestore();
    }
  });

  it('flushes on a timer when configured', async () => {
    const s = service({ lastUsedFlushMs: 20, clock: Date.now });
    const { key, record } = await newKey(s);
    await s.verify(key);
    // only the 20 ms timer writes lastUsedAt here: nothing else flushes
    await waitFor(async () => (await s.get(record.id)).lastUsedAt !== null, {
      what: 'lastUsedAt written by the flush timer',
    });
  });

  it('refuses a forged key with the prefix of a key verified and cached a moment before', async () => {
    const s = service();
    const { key } = await newKey(s);
    await s.verify(key); // the row and the key's digest are cached now
    const [, prefix, secret] = key.split('_');
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    for (const forged of [`sb_${prefix}_${flipped}`, `sb_${prefix}_${secret.slice(1)}x`])
      expect(await code(s.verify(forged))).toBe('invalid_api_key');
    // the real key still passes from the cache, and a forged one after it still fails
    expect((await s.verify(key)).ownerUserId).toBe('alice');
    expect(await code(s.verify(`sb_${prefix}_${flipped}`))).toBe('invalid_api_key');
  });

  it('stores no plaintext key anywhere in api_keys', async () => {
    const s = service();
    const issued = [
      await newKey(s),
      await newKey(s, { ownerUserId: 'carol', accountId: 'globex' }),
    ];
    issued.push(await s.rotate(issued[0].record.id, 60));
    for (const { key } of issued) await s.verify(key);
    await s.flushLastUsed();
    const dump = await t.db.query<{ row: string }>(
      'SELECT row_to_json(k)::text AS row FROM api_keys k',
      [],
    );
    const text = dump.rows.map((r) => r.row).join('\n');
    expect(dump.rows.length).toBeGreaterThanOrEqual(3);
    for (const { key } of issued) {
      const secretPart = key.split('_')[2];
      expect(text).not.toContain(key);
      expect(text).not.toContain(secretPart);
      expect(text).not.toContain(secretPart.slice(0, 16));
      expect(text).not.toContain(Buffer.from(key).toString('hex'));
      expect(text).not.toContain(Buffer.from(key).toString('base64'));
    }
  });
});

describe('ApiKeyService options', () => {
  it('refuses a short secret', () => {
    expect(() => new ApiKeyService({} as SqlApiKeyRepository, { secret: 'short' })).toThrow(/32/);
  });
});
