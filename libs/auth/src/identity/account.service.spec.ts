import { AppError } from '@switchboard/common';
import { Migrator } from '@switchboard/storage';
import { SqlAccountRepository } from './account.repository';
import { AccountService } from './account.service';
import { identityMigrations } from './identity.migrations';
import { DATABASES, type TestDb } from './test/identity-db';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
  throw new Error('expected a rejection');
}

describe.each(DATABASES)('AccountService on %s', (_name, open) => {
  let t: TestDb;
  let repo: SqlAccountRepository;
  let now: number;
  const service = () => new AccountService(repo, { clock: () => now, membershipCacheTtlMs: 5_000 });

  beforeAll(async () => {
    t = await open();
    repo = new SqlAccountRepository(t.db);
    now = Date.parse('2026-01-01T00:00:00Z');
  });

  afterAll(() => t.close());

  it('re-running the migrations is a no-op', async () => {
    const report = await new Migrator(t.db).migrate(identityMigrations);
    expect(report.applied).toEqual([]);
  });

  it('creates, gets and lists accounts with limit overrides', async () => {
    const s = service();
    const a = await s.create({
      id: 'eng',
      name: 'Engineering',
      limits: { tokensPerMinute: 50_000 },
    });
    const b = await s.create({ name: 'Generated id' });
    expect(b.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await s.get('eng')).toEqual(a);
    expect(await s.get('nope')).toBeUndefined();
    const ids = (await s.list()).map((x) => x.id);
    expect(ids).toEqual(expect.arrayContaining(['eng', b.id]));
    expect((await s.setLimits('eng', { concurrentStreams: 3 })).limits).toEqual({
      concurrentStreams: 3,
    });
    expect(await code(s.setLimits('nope', null))).toBe('not_found');
  });

  it('refuses duplicate and malformed ids and bad limits', async () => {
    const s = service();
    await s.create({ id: 'dup', name: 'One' });
    expect(await code(s.create({ id: 'dup', name: 'Two' }))).toBe('invalid_request');
    expect(await code(s.create({ id: 'has space', name: 'x' }))).toBe('invalid_request');
    expect(await code(s.create({ id: "x'; drop table accounts; --", name: 'x' }))).toBe(
      'invalid_request',
    );
    expect(await code(s.create({ name: 'x', limits: { requestsPerMinute: 1.5 } }))).toBe(
      'invalid_request',
    );
    expect(await code(s.create({ name: 'x', limits: { unknown: 1 } as never }))).toBe(
      'invalid_request',
    );
  });

  it('manages memberships: add (idempotent), isMember, accountsOf, remove', async () => {
    const s = service();
    await s.create({ id: 'm-a', name: 'A' });
    await s.create({ id: 'm-b', name: 'B' });
    await s.addMember('m-a', 'user-1');
    await s.addMember('m-a', 'user-1');
    await s.addMember('m-b', 'user-1');
    await s.addMember('m-b', 'user-2');
    expect((await s.accountsOf('user-1')).map((a) => a.id)).toEqual(['m-a', 'm-b']);
    expect(await s.isMember('user-2', 'm-a')).toBe(false);
    expect(await s.isMember('user-2', 'm-b')).toBe(true);
    expect(await s.members('m-b')).toEqual(['user-1', 'user-2']);
    expect(await s.removeMember('m-b', 'user-2')).toBe(true);
    expect(await s.removeMember('m-b', 'user-2')).toBe(false);
    expect(await s.isMember('user-2', 'm-b')).toBe(false);
    expect(await code(s.addMember('missing', 'user-1'))).toBe('not_found');
    expect(await s.accountsOf('nobody')).toEqual([]);
  });

  it('caches memberships briefly; another replica sees a removal after the TTL', async () => {
    const a = service();
    const b = service();
    await a.create({ id: 'c-1', name: 'C' });
    await a.addMember('c-1', 'user-9');
    expect(await b.isMember('user-9', 'c-1')).toBe(true);
    await a.removeMember('c-1', 'user-9');
    expect(await a.isMember('user-9', 'c-1')).toBe(false);
    expect(await b.isMember('user-9', 'c-1')).toBe(true);
    now += 5_001;
    expect(await b.isMember('user-9', 'c-1')).toBe(false);
  });
});
