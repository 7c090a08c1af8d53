import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DATABASE, Migrator, type PgliteDatabase } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { AccountService } from './account.service';
import { ApiKeyService } from './api-key.service';
import { createJwtVerifiers, IdentityModule } from './identity.module';
import { identityMigrations } from './identity.migrations';
import { JwtVerifierSet } from './jwt-verifier-set';

const secret = 'module-test-secret-0123456789abcdef';

describe('createJwtVerifiers', () => {
  it('creates no verifier when nothing is configured', () => {
    expect(createJwtVerifiers({ apiKeySecret: secret })).toEqual([]);
  });

  it('creates the OIDC and Cognito verifiers when their pairs are set', () => {
    const v = createJwtVerifiers({
      apiKeySecret: secret,
      oidcIssuer: 'https://login.example.com/',
      oidcAudience: 'api',
      cognitoUserPoolId: 'eu-west-1_AbCdEf123',
      cognitoClientId: 'client',
    });
    expect(v.map((x) => x.kind)).toEqual(['oidc', 'cognito']);
    expect(v[1].issuers).toContain(
      'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
    );
  });

  it('names the missing half of a pair', () => {
    expect(() => createJwtVerifiers({ apiKeySecret: secret, oidcIssuer: 'https://x' })).toThrow(
      /OIDC_AUDIENCE/,
    );
    expect(() => createJwtVerifiers({ apiKeySecret: secret, cognitoClientId: 'c' })).toThrow(
      /COGNITO_USER_POOL_ID/,
    );
  });
});

describe('IdentityModule', () => {
  let db: PgliteDatabase;

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate(identityMigrations);
  });

  afterAll(() => db.close());

  it('wires services on the global DATABASE and flushes last-used times at shutdown', async () => {
    @Global()
    @Module({ providers: [{ provide: DATABASE, useValue: db }], exports: [DATABASE] })
    class FakeStorage {}

    const mod = await Test.createTestingModule({
      imports: [
        FakeStorage,
        IdentityModule.forRootAsync({
          useFactory: () => ({
            apiKeySecret: secret,
            oidcIssuer: 'https://login.example.com',
            oidcAudience: 'api',
          }),
        }),
      ],
    }).compile();
    const app = mod.createNestApplication();
    await app.init();
    expect(mod.get(JwtVerifierSet).enabled).toBe(true);
    const accounts = mod.get(AccountService);
    const keys = mod.get(ApiKeyService);
    await accounts.create({ id: 'mod-acc', name: 'Module' });
    const { key, record } = await keys.create({
      ownerUserId: 'u',
      accountId: 'mod-acc',
      scopes: ['chat'],
      name: 'k',
    });
    await keys.verify(key);
    await app.close();
    const r = await db.query<{ last_used_at: Date | null }>(
      'SELECT last_used_at FROM api_keys WHERE id = $1',
      [record.id],
    );
    expect(r.rows[0].last_used_at).not.toBeNull();
  });
});
