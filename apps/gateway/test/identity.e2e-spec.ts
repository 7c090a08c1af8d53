import { waitFor } from '@switchboard/common/testing';
import { DATABASE, type Database } from '@switchboard/storage';
import { auth, chatBody, postJson, readSse, startHarness, type Harness } from './gateway.harness';

/**
 * API keys and tenant isolation over HTTP: keys issued through the admin API
 * authenticate /chat, fail with distinct codes when revoked, expired or out
 * of scope, rotate with a grace period, and never leave the create/rotate
 * response in plaintext.
 */

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const QUICK = 'hi\n#sim tokens=3';

interface ChatResult {
  status: number;
  headers: Headers;
  /** the JSON error of a refused request */
  error: { code: string; message: string } | undefined;
  frames: Array<Record<string, unknown>>;
}

interface Issued {
  key: string;
  record: { id: string; prefix: string; ownerUserId: string; accountId: string; status: string };
}

describe('identity: API keys, rotation and tenant isolation over HTTP', () => {
  let h: Harness;

  const api = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = auth,
  ) => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : null };
  };

  /** one chat to completion: the status, and for 200 the decoded frames */
  const chat = async (key: string, extra: Record<string, unknown> = {}): Promise<ChatResult> => {
    const res = await postJson(`${h.url}/chat`, chatBody(QUICK, extra), bearer(key));
    if (res.status !== 200)
      return {
        status: res.status,
        headers: res.headers,
        error: ((await res.json()) as { error: { code: string; message: string } }).error,
        frames: [],
      };
    const frames: Array<Record<string, unknown>> = [];
    for await (const f of readSse(res)) if (f.data) frames.push(JSON.parse(f.data));
    return { status: 200, headers: res.headers, error: undefined, frames };
  };

  const issue = async (body: Record<string, unknown>): Promise<Issued> => {
    const r = await api('POST', '/admin/keys', body);
    expect(r.status).toBe(201);
    return r.json as Issued;
  };

  const secretOf = (key: string) => key.split('_')[2];
  const usersIn = (report: { data: Array<{ userId: string }> }) => report.data.map((r) => r.userId);

  beforeAll(async () => {
    h = await startHarness();
    for (const [id, user] of [
      ['acct-a', 'alice'],
      ['acct-b', 'bob'],
    ]) {
      expect((await api('POST', '/admin/accounts', { id, name: id })).status).toBe(201);
      expect((await api('PUT', `/admin/accounts/${id}/members/${user}`)).status).toBe(204);
    }
  });
  afterAll(() => h.close());

  describe('API keys', () => {
    it('a created key streams a chat, and is shown once', async () => {
      const issued = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      expect(issued.key).toMatch(/^sb_[A-Za-z0-9]{8}_[A-Za-z0-9]{40}$/);
      expect(issued.record).toMatchObject({ ownerUserId: 'alice', status: 'active' });
      expect(issued.key.startsWith(`sb_${issued.record.prefix}_`)).toBe(true);

      const r = await chat(issued.key);
      expect(r.status).toBe(200);
      expect(r.frames.some((f) => f.s === 'answer')).toBe(true);
      expect(r.frames.at(-1)).toMatchObject({ s: 'result', type: 'end' });
    });

    it('a revoked key is refused with 401 api_key_revoked', async () => {
      const issued = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      expect((await chat(issued.key)).status).toBe(200);
      const del = await api('DELETE', `/admin/keys/${issued.record.id}`);
      expect(del.status).toBe(204);
      expect(del.text).toBe('');
      const r = await chat(issued.key);
      expect(r.status).toBe(401);
      expect(r.error?.code).toBe('api_key_revoked');
      expect(JSON.stringify(r.error ?? null)).not.toContain(secretOf(issued.key));
      expect((await api('GET', `/admin/keys/${issued.record.id}`)).json.status).toBe('revoked');
    });

    it('an expired key is refused with 401 api_key_expired', async () => {
      // far enough ahead that issuing the key on a loaded machine cannot overtake it
      const expiresAt = new Date(Date.now() + 2000).toISOString();
      const issued = await issue({
        ownerUserId: 'alice',
        accountId: 'acct-a',
        scopes: ['chat'],
        expiresAt,
      });
      // the gateway reads the same wall clock: wait until it refuses the key
      await waitFor(async () => (await chat(issued.key)).status === 401, {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'the key refused after its expiry',
      });
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
      const r = await chat(issued.key);
      expect(r.status).toBe(401);
      expect(r.error?.code).toBe('api_key_expired');
    });

    it('an expiry in the past is refused at creation (400)', async () => {
      const r = await api('POST', '/admin/keys', {
        ownerUserId: 'alice',
        accountId: 'acct-a',
        scopes: ['chat'],
        expiresAt: '2020-01-01T00:00:00Z',
      });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_request', param: 'expiresAt' });
    });

    it('a key without the chat scope gets 403 insufficient_scope on /chat', async () => {
      const issued = await issue({
        ownerUserId: 'alice',
        accountId: 'acct-a',
        scopes: ['embeddings'],
      });
      const r = await chat(issued.key);
      expect(r.status).toBe(403);
      expect(r.error?.code).toBe('insufficient_scope');
      // the same answer whichever way the request is routed: the hot-route dispatch
      // (exact path) and Nest's route table (a trailing slash) check the same scope
      const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
      for (const path of ['/v1/chat/completions', '/v1/chat/completions/', '/chat/'])
        expect(
          (
            await api(
              'POST',
              path,
              path.startsWith('/chat') ? chatBody(QUICK) : body,
              bearer(issued.key),
            )
          ).json.error,
        ).toMatchObject({
          code: 'insufficient_scope',
          message: 'This endpoint needs the "chat" scope.',
        });
    });

    it('a non-admin key gets 403 on every /admin route', async () => {
      const issued = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      const id = issued.record.id;
      for (const [method, path, body] of [
        ['GET', '/admin/keys', undefined],
        ['GET', `/admin/keys/${id}`, undefined],
        ['POST', '/admin/keys', { ownerUserId: 'alice', accountId: 'acct-a', scopes: ['admin'] }],
        ['POST', `/admin/keys/${id}/rotate`, { graceSeconds: 0 }],
        ['DELETE', `/admin/keys/${id}`, undefined],
        ['PUT', `/admin/keys/${id}/limits`, { requestsPerMinute: 1_000_000 }],
        ['GET', '/admin/accounts', undefined],
        ['POST', '/admin/accounts', { name: 'x' }],
        ['PUT', '/admin/accounts/acct-b/members/alice', undefined],
        ['GET', '/admin/budgets', undefined],
        ['PUT', '/admin/budgets/user/alice/day', { limitUsd: 1000 }],
      ] as const) {
        const r = await api(method, path, body, bearer(issued.key));
        expect([method, path, r.status, r.json?.error?.code]).toEqual([
          method,
          path,
          403,
          'insufficient_scope',
        ]);
      }
      // none of the refused writes happened
      expect((await api('GET', '/admin/accounts/acct-b/members')).json.data).toEqual([
        { userId: 'bob' },
      ]);
      expect((await api('GET', `/admin/keys/${id}`)).json).toMatchObject({
        status: 'active',
        limits: null,
      });
    });

    it('an unknown sb_ key is refused with 401 invalid_api_key', async () => {
      const r = await chat(`sb_AAAAAAAA_${'B'.repeat(40)}`);
      expect(r.status).toBe(401);
      expect(r.error?.code).toBe('invalid_api_key');
      // a known prefix with a wrong secret is the same refusal
      const issued = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      const forged = `sb_${issued.record.prefix}_${'C'.repeat(40)}`;
      expect((await chat(forged)).error?.code).toBe('invalid_api_key');
    });

    it('list and get responses never contain a plaintext key', async () => {
      const issued = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      const own = await api('POST', '/me/keys', { scopes: ['chat'] }, bearer(issued.key));
      expect(own.status).toBe(201);
      const rotated = await api('POST', `/admin/keys/${issued.record.id}/rotate`, {
        graceSeconds: 60,
      });
      expect(rotated.status).toBe(201);
      const secrets = [issued.key, own.json.key, rotated.json.key].map(secretOf);

      const responses = [
        await api('GET', '/admin/keys'),
        await api('GET', '/admin/keys?ownerUserId=alice&accountId=acct-a'),
        await api('GET', `/admin/keys/${issued.record.id}`),
        await api('GET', `/admin/keys/${own.json.record.id}`),
        await api('GET', '/me/keys', undefined, bearer(rotated.json.key)),
        await api('PUT', `/admin/keys/${issued.record.id}/limits`, { requestsPerMinute: 100 }),
      ];
      for (const r of responses) {
        expect(r.status).toBe(200);
        for (const s of secrets) expect(r.text).not.toContain(s);
      }
      const listed = responses[1].json.data as Array<{ id: string }>;
      expect(listed.map((k) => k.id)).toEqual(
        expect.arrayContaining([issued.record.id, own.json.record.id, rotated.json.record.id]),
      );
      for (const k of listed) expect(k).not.toHaveProperty('hash');
    });

    it('the database never contains a plaintext key', async () => {
      const issued: Issued[] = [];
      for (const scopes of [['chat'], ['embeddings', 'files'], ['admin']]) {
        issued.push(await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes }));
      }
      const rotated = await api('POST', `/admin/keys/${issued[0].record.id}/rotate`, {
        graceSeconds: 1,
      });
      const keys = [...issued.map((i) => i.key), rotated.json.key as string];
      expect((await chat(keys[0])).status).toBe(200);

      const db = h.gateway.app.get<Database>(DATABASE);
      const rows = (await db.query('SELECT * FROM api_keys')).rows;
      expect(rows.length).toBeGreaterThanOrEqual(5);
      const dump = JSON.stringify(rows);
      for (const k of keys) {
        expect(dump).not.toContain(k);
        expect(dump).not.toContain(secretOf(k));
      }
      // the stored hashes are 64 hex characters, none of them the key
      for (const row of rows) expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('rotation', () => {
    it('the old key works during the grace period and is revoked after it', async () => {
      const old = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      const r = await api('POST', `/admin/keys/${old.record.id}/rotate`, { graceSeconds: 1 });
      expect(r.status).toBe(201);
      expect(r.json.record).toMatchObject({
        ownerUserId: 'alice',
        accountId: 'acct-a',
        scopes: ['chat'],
        rotatedFrom: old.record.id,
        status: 'active',
      });
      expect(r.json.previous).toMatchObject({ id: old.record.id, status: 'rotating' });
      const graceEnds = Date.parse(r.json.previous.graceUntil);

      expect((await chat(old.key)).status).toBe(200);
      expect((await chat(r.json.key)).status).toBe(200);

      await waitFor(async () => (await chat(old.key)).status === 401, {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'the old key refused after its grace',
      });
      expect(Date.now()).toBeGreaterThanOrEqual(graceEnds);
      const after = await chat(old.key);
      expect(after.status).toBe(401);
      expect(after.error?.code).toBe('api_key_revoked');
      expect((await chat(r.json.key)).status).toBe(200);
    });

    it('rotate validates graceSeconds and refuses an unknown or revoked key', async () => {
      const k = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      for (const body of [{}, { graceSeconds: -1 }, { graceSeconds: 'soon' }]) {
        const r = await api('POST', `/admin/keys/${k.record.id}/rotate`, body);
        expect(r.status).toBe(400);
        expect(r.json.error.param).toBe('graceSeconds');
      }
      expect((await api('POST', '/admin/keys/nope/rotate', { graceSeconds: 0 })).status).toBe(404);
      await api('DELETE', `/admin/keys/${k.record.id}`);
      expect(
        (await api('POST', `/admin/keys/${k.record.id}/rotate`, { graceSeconds: 0 })).status,
      ).toBe(400);
    });
  });

  describe('tenant isolation', () => {
    let alice: Issued;
    let bob: Issued;
    beforeAll(async () => {
      alice = await issue({ ownerUserId: 'alice', accountId: 'acct-a', scopes: ['chat'] });
      bob = await issue({ ownerUserId: 'bob', accountId: 'acct-b', scopes: ['chat'] });
    });

    it('GET /me describes the caller without secrets', async () => {
      const r = await api('GET', '/me', undefined, bearer(alice.key));
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        kind: 'api-key',
        userId: 'alice',
        accountIds: ['acct-a'],
        defaultAccountId: 'acct-a',
        keyId: alice.record.id,
        scopes: ['chat'],
        limits: {},
      });
      expect(r.text).not.toContain(secretOf(alice.key));
    });

    it("A sees only their own keys and cannot read or revoke B's (404)", async () => {
      const mine = await api('GET', '/me/keys', undefined, bearer(alice.key));
      expect(mine.status).toBe(200);
      const owners = new Set((mine.json.data as Issued['record'][]).map((k) => k.ownerUserId));
      expect([...owners]).toEqual(['alice']);
      expect(mine.text).not.toContain(bob.record.id);

      const del = await api('DELETE', `/me/keys/${bob.record.id}`, undefined, bearer(alice.key));
      expect(del.status).toBe(404);
      expect(del.json.error?.code).toBe('not_found');
      // same answer as an id that does not exist: other tenants' ids cannot be probed
      const unknown = await api('DELETE', '/me/keys/does-not-exist', undefined, bearer(alice.key));
      expect(unknown.status).toBe(404);
      expect(unknown.json.error.message).toBe(del.json.error.message);
      expect((await chat(bob.key)).status).toBe(200);
      // and A cannot reach the admin read of B's key either
      expect(
        (await api('GET', `/admin/keys/${bob.record.id}`, undefined, bearer(alice.key))).status,
      ).toBe(403);
    });

    it('A may create and revoke keys for themselves, never admin and never in B’s account', async () => {
      const made = await api(
        'POST',
        '/me/keys',
        { scopes: ['chat'], name: 'laptop' },
        bearer(alice.key),
      );
      expect(made.status).toBe(201);
      expect(made.json.record).toMatchObject({
        ownerUserId: 'alice',
        accountId: 'acct-a',
        name: 'laptop',
      });
      expect((await chat(made.json.key)).status).toBe(200);

      const admin = await api('POST', '/me/keys', { scopes: ['chat', 'admin'] }, bearer(alice.key));
      expect(admin.status).toBe(403);
      expect(admin.json.error).toMatchObject({ code: 'forbidden', param: 'scopes' });
      // a chat-only key cannot mint a key with more scopes than it holds
      const wider = await api('POST', '/me/keys', { scopes: ['embeddings'] }, bearer(alice.key));
      expect(wider.status).toBe(403);
      const other = await api(
        'POST',
        '/me/keys',
        { scopes: ['chat'], accountId: 'acct-b' },
        bearer(alice.key),
      );
      expect(other.status).toBe(403);
      expect(other.json.error).toMatchObject({ code: 'forbidden', param: 'accountId' });
      // limits are the admin's to set
      const limits = await api(
        'POST',
        '/me/keys',
        { scopes: ['chat'], limits: { requestsPerMinute: 1e6 } },
        bearer(alice.key),
      );
      expect(limits.status).toBe(400);

      const del = await api(
        'DELETE',
        `/me/keys/${made.json.record.id}`,
        undefined,
        bearer(alice.key),
      );
      expect(del.status).toBe(204);
      expect((await chat(made.json.key)).error?.code).toBe('api_key_revoked');
    });

    it('A cannot charge an account they do not belong to (403 forbidden)', async () => {
      const r = await chat(alice.key, {
        options: { model: { id: 'sim-gpt' }, accountId: 'acct-b' },
      });
      expect(r.status).toBe(403);
      expect(r.error?.code).toBe('forbidden');
      const own = await chat(alice.key, {
        options: { model: { id: 'sim-gpt' }, accountId: 'acct-a' },
      });
      expect(own.status).toBe(200);
    });

    it("A's usage report never includes B's usage, even when A asks for it", async () => {
      expect((await chat(bob.key)).status).toBe(200);
      expect((await chat(alice.key)).status).toBe(200);
      const asked = await api(
        'GET',
        '/usage/report?groupBy=user&userId=bob',
        undefined,
        bearer(alice.key),
      );
      expect(asked.status).toBe(200);
      expect(asked.json.userId).toBe('alice');
      expect(usersIn(asked.json)).toEqual(['alice']);
      const byAccount = await api(
        'GET',
        '/usage/report?groupBy=user&accountId=acct-b',
        undefined,
        bearer(alice.key),
      );
      expect(byAccount.json.data).toEqual([]);
      // the admin sees both
      const all = await api('GET', '/usage/report?groupBy=user');
      expect(usersIn(all.json)).toEqual(expect.arrayContaining(['alice', 'bob']));
    });
  });

  describe('rate limits', () => {
    it('a key with requestsPerMinute=2 gets 429 rate_limited on the third request', async () => {
      const k = await issue({
        ownerUserId: 'carol',
        accountId: 'acct-a',
        scopes: ['chat'],
        limits: { requestsPerMinute: 2 },
      });
      const first = await chat(k.key);
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-policy')).toBeTruthy();
      expect((await chat(k.key)).status).toBe(200);
      const third = await chat(k.key);
      expect(third.status).toBe(429);
      expect(third.error?.code).toBe('rate_limited');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(third.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(third.headers.get('ratelimit-policy')).toBe('"key-requests";q=2;w=60');
      expect(third.headers.get('ratelimit')).toMatch(/^"key-requests";r=0;t=\d+$/);
    });

    it('PUT /admin/keys/:id/limits applies to the next request', async () => {
      const k = await issue({ ownerUserId: 'dave', accountId: 'acct-a', scopes: ['chat'] });
      const set = await api('PUT', `/admin/keys/${k.record.id}/limits`, { requestsPerMinute: 1 });
      expect(set.status).toBe(200);
      expect(set.json.limits).toEqual({ requestsPerMinute: 1 });
      expect((await chat(k.key)).status).toBe(200);
      expect((await chat(k.key)).status).toBe(429);
      const cleared = await api('PUT', `/admin/keys/${k.record.id}/limits`, {});
      expect(cleared.json.limits).toBeNull();
      const bad = await api('PUT', `/admin/keys/${k.record.id}/limits`, { requestsPerMinute: -1 });
      expect(bad.status).toBe(400);
      expect(bad.json.error.param).toBe('requestsPerMinute');
    });
  });
});
