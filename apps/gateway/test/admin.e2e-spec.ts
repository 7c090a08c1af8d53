import { formatMicros } from '@switchboard/billing';
import {
  auth,
  chatBody,
  postJson,
  readSse,
  startHarness,
  waitFor,
  type Harness,
} from './gateway.harness';

/**
 * The admin API's exact status codes and error bodies (accounts, members,
 * keys, budgets), and dollar budgets set over HTTP refusing a chat with 402.
 */

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface ApiResult {
  status: number;
  text: string;
  // response bodies are asserted field by field
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

interface BudgetRow {
  scopeType: string;
  scopeId: string;
  period: string;
  limitMicros: number;
  spentMicros: number;
  heldMicros: number;
}

describe('admin API over HTTP', () => {
  let h: Harness;

  const api = async (method: string, path: string, body?: unknown): Promise<ApiResult> => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? JSON.parse(text) : null };
  };

  const expectError = (r: ApiResult, status: number, code: string, param?: string) => {
    expect([r.status, r.json?.error?.code]).toEqual([status, code]);
    if (param !== undefined) expect(r.json.error.param).toBe(param);
  };

  const idsIn = (r: ApiResult) => (r.json.data as Array<{ id: string }>).map((x) => x.id);

  const newKey = async (ownerUserId: string, accountId: string) => {
    const r = await api('POST', '/admin/keys', { ownerUserId, accountId, scopes: ['chat'] });
    expect(r.status).toBe(201);
    return r.json as { key: string; record: { id: string } };
  };

  /** one chat: 200 with its end frame, or the JSON error */
  const chat = async (key: string) => {
    const res = await postJson(`${h.url}/chat`, chatBody('hi\n#sim tokens=3'), bearer(key));
    if (res.status !== 200)
      return { status: res.status, error: ((await res.json()) as ApiResult['json']).error };
    let end: unknown;
    for await (const f of readSse(res)) if (f.data) end = JSON.parse(f.data);
    expect(end).toMatchObject({ s: 'result', type: 'end' });
    return { status: 200, error: undefined };
  };

  beforeAll(async () => (h = await startHarness()));
  afterAll(() => h.close());

  describe('accounts and members', () => {
    it('creates, reads and lists accounts', async () => {
      const made = await api('POST', '/admin/accounts', {
        id: 'eng',
        name: 'Engineering',
        limits: { requestsPerMinute: 100 },
      });
      expect(made.status).toBe(201);
      expect(made.json).toMatchObject({
        id: 'eng',
        name: 'Engineering',
        limits: { requestsPerMinute: 100 },
      });
      const generated = await api('POST', '/admin/accounts', { name: 'No id given' });
      expect(generated.status).toBe(201);
      expect(generated.json.id).toMatch(/^[0-9a-f-]{36}$/);

      expect((await api('GET', '/admin/accounts/eng')).json.name).toBe('Engineering');
      const ids = idsIn(await api('GET', '/admin/accounts'));
      expect(ids).toEqual(expect.arrayContaining(['eng', generated.json.id]));
      expectError(await api('GET', '/admin/accounts/nope'), 404, 'not_found');
    });

    it('refuses invalid accounts with 400 and the field', async () => {
      expectError(
        await api('POST', '/admin/accounts', { id: 'eng', name: 'again' }),
        400,
        'invalid_request',
        'id',
      );
      expectError(
        await api('POST', '/admin/accounts', { id: 'has space', name: 'x' }),
        400,
        'invalid_request',
        'id',
      );
      expectError(
        await api('POST', '/admin/accounts', { id: 'x1' }),
        400,
        'invalid_request',
        'name',
      );
      expectError(
        await api('POST', '/admin/accounts', { name: 'x', limits: { requestsPerMinute: -1 } }),
        400,
        'invalid_request',
        'limits.requestsPerMinute',
      );
      expectError(
        await api('POST', '/admin/accounts', { name: 'x', owner: 'me' }),
        400,
        'invalid_request',
      );
      expectError(await api('POST', '/admin/accounts', [1]), 400, 'invalid_request');
    });

    it('replaces and clears account limits', async () => {
      const set = await api('PUT', '/admin/accounts/eng/limits', { concurrentStreams: 3 });
      expect(set.status).toBe(200);
      expect(set.json.limits).toEqual({ concurrentStreams: 3 });
      expect((await api('PUT', '/admin/accounts/eng/limits', {})).json.limits).toBeNull();
      expectError(
        await api('PUT', '/admin/accounts/nope/limits', { concurrentStreams: 3 }),
        404,
        'not_found',
      );
      expectError(
        await api('PUT', '/admin/accounts/eng/limits', { perDay: 3 }),
        400,
        'invalid_request',
      );
    });

    it('adds (idempotently), lists and removes members', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await api('PUT', '/admin/accounts/eng/members/erin');
        expect(r.status).toBe(204);
        expect(r.text).toBe('');
      }
      await api('PUT', '/admin/accounts/eng/members/frank');
      expect((await api('GET', '/admin/accounts/eng/members')).json.data).toEqual([
        { userId: 'erin' },
        { userId: 'frank' },
      ]);
      expect((await api('DELETE', '/admin/accounts/eng/members/frank')).status).toBe(204);
      expectError(await api('DELETE', '/admin/accounts/eng/members/frank'), 404, 'not_found');
      expect((await api('GET', '/admin/accounts/eng/members')).json.data).toEqual([
        { userId: 'erin' },
      ]);
      expectError(await api('PUT', '/admin/accounts/nope/members/erin'), 404, 'not_found');
      expectError(await api('GET', '/admin/accounts/nope/members'), 404, 'not_found');
    });

    it('a removed member can no longer create keys for the account', async () => {
      await api('POST', '/admin/accounts', { id: 'tmp', name: 'tmp' });
      await api('PUT', '/admin/accounts/tmp/members/erin');
      const erin = await newKey('erin', 'eng');
      const mint = () =>
        fetch(`${h.url}/me/keys`, {
          method: 'POST',
          headers: { ...bearer(erin.key), 'content-type': 'application/json' },
          body: JSON.stringify({ scopes: ['chat'], accountId: 'tmp' }),
        });
      expect((await mint()).status).toBe(201);
      await api('DELETE', '/admin/accounts/tmp/members/erin');
      expect((await mint()).status).toBe(403);
    });
  });

  describe('keys', () => {
    it('validates the body with 400 and the field', async () => {
      const base = { ownerUserId: 'erin', accountId: 'eng', scopes: ['chat'] };
      expectError(
        await api('POST', '/admin/keys', { ...base, accountId: 'nope' }),
        400,
        'invalid_request',
        'accountId',
      );
      expectError(
        await api('POST', '/admin/keys', { ...base, scopes: [] }),
        400,
        'invalid_request',
        'scopes',
      );
      expectError(
        await api('POST', '/admin/keys', { ...base, scopes: ['root'] }),
        400,
        'invalid_request',
        'scopes.0',
      );
      expectError(
        await api('POST', '/admin/keys', { ...base, ownerUserId: '' }),
        400,
        'invalid_request',
        'ownerUserId',
      );
      expectError(
        await api('POST', '/admin/keys', { ...base, expiresAt: 'tomorrow' }),
        400,
        'invalid_request',
        'expiresAt',
      );
      expectError(
        await api('POST', '/admin/keys', { ...base, limits: { requestsPerHour: 5 } }),
        400,
        'invalid_request',
        'limits',
      );
    });

    it('creates with a name, expiry and limits, and filters the list', async () => {
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const r = await api('POST', '/admin/keys', {
        ownerUserId: 'gina',
        accountId: 'eng',
        scopes: ['chat', 'chat', 'files'],
        name: 'ci',
        expiresAt,
        limits: { tokensPerMinute: 5000 },
      });
      expect(r.status).toBe(201);
      expect(r.json.record).toMatchObject({
        ownerUserId: 'gina',
        accountId: 'eng',
        scopes: ['chat', 'files'],
        name: 'ci',
        expiresAt,
        limits: { tokensPerMinute: 5000 },
        status: 'active',
        revokedAt: null,
        lastUsedAt: null,
      });
      const byOwner = await api('GET', '/admin/keys?ownerUserId=gina');
      expect(idsIn(byOwner)).toEqual([r.json.record.id]);
      expect((await api('GET', '/admin/keys?ownerUserId=gina&accountId=tmp')).json.data).toEqual(
        [],
      );
      expectError(
        await api('GET', '/admin/keys?accountId=bad%20id'),
        400,
        'invalid_request',
        'accountId',
      );
    });

    it('answers 404 for unknown key ids on every route', async () => {
      expectError(await api('GET', '/admin/keys/nope'), 404, 'not_found');
      expectError(await api('DELETE', '/admin/keys/nope'), 404, 'not_found');
      expectError(
        await api('PUT', '/admin/keys/nope/limits', { requestsPerMinute: 1 }),
        404,
        'not_found',
      );
      expectError(
        await api('POST', '/admin/keys/nope/rotate', { graceSeconds: 0 }),
        404,
        'not_found',
      );
    });

    it('revoking twice keeps the first revocation time', async () => {
      const k = await newKey('erin', 'eng');
      expect((await api('DELETE', `/admin/keys/${k.record.id}`)).status).toBe(204);
      const first = (await api('GET', `/admin/keys/${k.record.id}`)).json.revokedAt;
      expect((await api('DELETE', `/admin/keys/${k.record.id}`)).status).toBe(204);
      expect((await api('GET', `/admin/keys/${k.record.id}`)).json.revokedAt).toBe(first);
    });
  });

  describe('budgets', () => {
    it('sets, lists, replaces and removes budgets with exact status codes', async () => {
      const set = await api('PUT', '/admin/budgets/account/eng/month', { limitUsd: 12.5 });
      expect(set.status).toBe(200);
      expect(set.json).toEqual({
        scopeType: 'account',
        scopeId: 'eng',
        period: 'month',
        limitMicros: 12_500_000,
        limitUsd: 12.5,
      });
      await api('PUT', '/admin/budgets/user/erin/hour', { limitMicros: 250_000 });
      const replaced = await api('PUT', '/admin/budgets/account/eng/month', { limitMicros: 7 });
      expect(replaced.json.limitMicros).toBe(7);

      const listed = await api('GET', '/admin/budgets?scopeType=account&scopeId=eng');
      expect(listed.status).toBe(200);
      expect(listed.json.data).toEqual([
        expect.objectContaining({
          scopeId: 'eng',
          period: 'month',
          limitMicros: 7,
          spentMicros: 0,
          heldMicros: 0,
        }),
      ]);
      const all = (await api('GET', '/admin/budgets')).json.data as BudgetRow[];
      expect(all.map((b) => `${b.scopeType}/${b.scopeId}/${b.period}`)).toEqual(
        expect.arrayContaining(['account/eng/month', 'user/erin/hour']),
      );

      expect((await api('DELETE', '/admin/budgets/account/eng/month')).status).toBe(204);
      expectError(await api('DELETE', '/admin/budgets/account/eng/month'), 404, 'not_found');
      expect((await api('DELETE', '/admin/budgets/user/erin/hour')).status).toBe(204);
    });

    it('validates the path and the body', async () => {
      expectError(
        await api('PUT', '/admin/budgets/team/eng/day', { limitUsd: 1 }),
        400,
        'invalid_request',
        'scopeType',
      );
      expectError(
        await api('PUT', '/admin/budgets/account/eng/week', { limitUsd: 1 }),
        400,
        'invalid_request',
        'period',
      );
      expectError(
        await api('PUT', '/admin/budgets/account/eng/day', {}),
        400,
        'invalid_request',
        'limitUsd',
      );
      expectError(
        await api('PUT', '/admin/budgets/account/eng/day', { limitUsd: 1, limitMicros: 1 }),
        400,
        'invalid_request',
        'limitUsd',
      );
      expectError(
        await api('PUT', '/admin/budgets/account/eng/day', { limitUsd: -1 }),
        400,
        'invalid_request',
        'limitUsd',
      );
      expectError(
        await api('PUT', '/admin/budgets/account/eng/day', { limitMicros: 1.5 }),
        400,
        'invalid_request',
        'limitMicros',
      );
      expectError(
        await api('GET', '/admin/budgets?scopeType=team'),
        400,
        'invalid_request',
        'scopeType',
      );
      expectError(
        await api('PUT', '/admin/budgets/account/nope/day', { limitUsd: 1 }),
        404,
        'not_found',
      );
      expectError(
        await api('PUT', '/admin/budgets/key/nope/day', { limitUsd: 1 }),
        404,
        'not_found',
      );
      expect((await api('GET', '/admin/budgets?scopeType=account&scopeId=eng')).json.data).toEqual(
        [],
      );
    });

    it('a tiny daily account budget refuses a chat with 402 naming the period, spent and limit', async () => {
      await api('POST', '/admin/accounts', { id: 'sales', name: 'Sales' });
      await api('PUT', '/admin/accounts/sales/members/hank');
      const first = await newKey('hank', 'sales');
      const second = await newKey('hank', 'sales');
      // a generous budget first: the chat goes through and its cost is counted
      await api('PUT', '/admin/budgets/account/sales/day', { limitUsd: 10 });
      expect((await chat(first.key)).status).toBe(200);
      let spent = 0;
      await waitFor(async () => {
        const [b] = (await api('GET', '/admin/budgets?scopeType=account&scopeId=sales')).json
          .data as BudgetRow[];
        spent = b.spentMicros;
        return spent > 0 && b.heldMicros === 0;
      });

      const limitMicros = spent + 1;
      await api('PUT', '/admin/budgets/account/sales/day', { limitMicros });
      // a key whose budget scopes were never loaded sees the new limit at once
      const refused = await chat(second.key);
      expect(refused.status).toBe(402);
      expect(refused.error.code).toBe('budget_exceeded');
      expect(refused.error.message).toContain('daily budget of account exceeded');
      expect(refused.error.message).toContain(`${formatMicros(spent)} spent`);
      expect(refused.error.message).toContain(`${formatMicros(limitMicros)} limit`);

      // nothing was charged or left held by the refused request
      const [after] = (await api('GET', '/admin/budgets?scopeType=account&scopeId=sales')).json
        .data as BudgetRow[];
      expect(after).toMatchObject({ spentMicros: spent, heldMicros: 0 });
    });

    it('a zero total budget for a user refuses their chat with 402', async () => {
      await api('PUT', '/admin/accounts/sales/members/ivan');
      const k = await newKey('ivan', 'sales');
      await api('PUT', '/admin/budgets/user/ivan/total', { limitUsd: 0 });
      const r = await chat(k.key);
      expect(r.status).toBe(402);
      expect(r.error.message).toContain('total budget of user exceeded');
      expect(r.error.message).toContain('$0.00 limit');
    });
  });
});
