import { AssistantRegistry, type ModelCaller } from '@switchboard/assistants';
import type { Principal } from '@switchboard/auth';
import { LlmService, type ChatEvent } from '@switchboard/llm';
import { lastValueFrom, toArray } from 'rxjs';
import { auth, chatBody, postJson, startHarness, type Harness } from './gateway.harness';

/**
 * The /assistants API over HTTP with real guards and pipes: owners write,
 * members of a shared account read, everyone else gets 404; and the app's
 * registry refuses a non-member and puts an assistant's instructions in front
 * of the upstream prompt.
 */
/** one gateway boot, as test/jest/e2e-timeout.ts allows every e2e test and hook */
const BOOT_MS = 90_000;

describe('assistants API over HTTP', () => {
  let h: Harness;
  const keys: Record<string, string> = {};

  const api = async (method: string, path: string, body?: unknown, key?: string) => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : key === undefined ? auth : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };

  const as = (user: string) => ({
    post: (path: string, body: unknown) => api('POST', path, body, keys[user]),
    get: (path: string) => api('GET', path, undefined, keys[user]),
    put: (path: string, body: unknown) => api('PUT', path, body, keys[user]),
    del: (path: string) => api('DELETE', path, undefined, keys[user]),
  });

  const principal = (userId: string, accountId: string): Principal => ({
    kind: 'api-key',
    userId,
    accountIds: [accountId],
    defaultAccountId: accountId,
    scopes: ['chat'],
    limits: {},
  });

  beforeAll(async () => {
    h = await startHarness();
    for (const [account, users] of [
      ['team-a', ['alice', 'bob']],
      ['team-b', ['carol']],
    ] as const) {
      expect((await api('POST', '/admin/accounts', { id: account, name: account })).status).toBe(
        201,
      );
      for (const user of users) {
        expect((await api('PUT', `/admin/accounts/${account}/members/${user}`)).status).toBe(204);
        const issued = await api('POST', '/admin/keys', {
          ownerUserId: user,
          accountId: account,
          scopes: ['chat', 'files'],
        });
        expect(issued.status).toBe(201);
        keys[user] = (issued.json as { key: string }).key;
      }
    }
  });
  afterAll(() => h.close());

  it('creates, shares, reads, updates and deletes with owner-only writes and 404 for outsiders', async () => {
    const created = await as('alice').post('/assistants', {
      name: 'Pirate',
      instructions: 'Always answer like a pirate.',
      sharedAccountIds: ['team-a'],
      tools: ['search_documents', 'search_documents'],
    });
    expect(created.status).toBe(201);
    const a = created.json as { id: string };
    expect(created.json).toMatchObject({
      ownerUserId: 'alice',
      name: 'Pirate',
      model: null,
      tools: ['search_documents'],
      sharedAccountIds: ['team-a'],
    });

    expect((await as('bob').get(`/assistants/${a.id}`)).status).toBe(200);
    const listed = (await as('bob').get('/assistants')).json as { data: Array<{ id: string }> };
    expect(listed.data.map((x) => x.id)).toContain(a.id);
    expect((await as('carol').get('/assistants')).json.data).toEqual([]);

    const hidden = await as('carol').get(`/assistants/${a.id}`);
    expect(hidden.status).toBe(404);
    expect(hidden.json.error).toMatchObject({ code: 'not_found', requestId: expect.any(String) });
    expect((await as('carol').del(`/assistants/${a.id}`)).status).toBe(404);

    const notOwner = await as('bob').put(`/assistants/${a.id}`, { name: 'Mine now' });
    expect(notOwner.status).toBe(403);
    expect(notOwner.json.error.code).toBe('forbidden');
    expect((await as('bob').del(`/assistants/${a.id}`)).status).toBe(403);

    const updated = await as('alice').put(`/assistants/${a.id}`, {
      name: 'Parrot',
      instructions: 'Repeat everything.',
      sharedAccountIds: ['team-a'],
    });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ name: 'Parrot', tools: [] });

    expect((await as('alice').del(`/assistants/${a.id}`)).status).toBe(204);
    expect((await as('alice').get(`/assistants/${a.id}`)).status).toBe(404);
  });

  it('validates bodies with field-level 400s and refuses sharing outside my accounts', async () => {
    const bad = await as('alice').post('/assistants', { name: '', tools: ['rm_rf'], extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_request');
    const paths = (bad.json.error.details as Array<{ path: string }>).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'tools.0']));

    const foreign = await as('alice').post('/assistants', {
      name: 'x',
      sharedAccountIds: ['team-b'],
    });
    expect(foreign.status).toBe(403);

    const model = await as('alice').post('/assistants', { name: 'x', model: 'no-such-model' });
    expect(model.status).toBe(404);
    expect(model.json.error.code).toBe('model_not_found');
  });

  it("answers another user's assistant id exactly like a missing one, on GET and on /chat", async () => {
    const created = await as('alice').post('/assistants', { name: 'Private', instructions: 'x' });
    const id = (created.json as { id: string }).id;
    const missing = 'asst_00000000000000000000000000000000';
    const chat = async (assistantId: string) => {
      const res = await postJson(
        `${h.url}/chat`,
        chatBody('hi', { options: { model: { id: 'sim-gpt' }, assistantId } }),
        { authorization: `Bearer ${keys.carol}` },
      );
      const body = (await res.json()) as { error: Record<string, unknown> };
      return { status: res.status, error: { ...body.error, requestId: undefined } };
    };
    const strip = (r: { status: number; json: { error: Record<string, unknown> } }) => ({
      status: r.status,
      error: { ...r.json.error, requestId: undefined },
    });
    const foreignGet = strip(await as('carol').get(`/assistants/${id}`));
    const missingGet = strip(await as('carol').get(`/assistants/${missing}`));
    const foreignChat = await chat(id);
    const missingChat = await chat(missing);
    expect(foreignGet).toMatchObject({ status: 404, error: { code: 'not_found' } });
    expect(foreignGet).toEqual(missingGet);
    expect(foreignChat).toMatchObject({ status: 404, error: { code: 'not_found' } });
    expect(foreignChat).toEqual(missingChat);
    // and the owner still uses it
    const own = await postJson(
      `${h.url}/chat`,
      chatBody('hi #sim tokens=2', { options: { model: { id: 'sim-gpt' }, assistantId: id } }),
      { authorization: `Bearer ${keys.alice}` },
    );
    expect(own.status).toBe(200);
    await own.text();
  });

  it("refuses another user's file ids and tags on POST and PUT exactly like unknown ones", async () => {
    const form = new FormData();
    form.append('file', new Blob(['merger plans'], { type: 'text/plain' }), 'secret.txt');
    const up = await fetch(`${h.url}/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.carol}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const carolFile = ((await up.json()) as { id: string }).id;
    const tagged = await api('PUT', `/files/${carolFile}/tags`, { tags: ['merger'] }, keys.carol);
    expect(tagged.status).toBe(200);
    // carol herself may use both
    const hers = await as('carol').post('/assistants', {
      name: 'Carol',
      fileIds: [carolFile],
      tags: ['merger'],
    });
    expect(hers.status).toBe(201);

    const strip = (
      r: { status: number; json: { error: Record<string, unknown> } },
      id: string,
    ) => ({
      status: r.status,
      error: {
        ...r.json.error,
        requestId: undefined,
        message: String(r.json.error.message).replace(id, 'ID'),
      },
    });
    const foreignFile = await as('alice').post('/assistants', { name: 'x', fileIds: [carolFile] });
    const unknownFile = await as('alice').post('/assistants', {
      name: 'x',
      fileIds: ['file_nope'],
    });
    expect(foreignFile.status).toBe(400);
    expect(foreignFile.json.error).toMatchObject({ code: 'invalid_request', param: 'fileIds' });
    expect(strip(foreignFile, carolFile)).toEqual(strip(unknownFile, 'file_nope'));
    const foreignTag = await as('alice').post('/assistants', { name: 'x', tags: ['merger'] });
    const unknownTag = await as('alice').post('/assistants', { name: 'x', tags: ['nope-tag'] });
    expect(foreignTag.status).toBe(400);
    expect(foreignTag.json.error).toMatchObject({ code: 'invalid_request', param: 'tags' });
    expect(strip(foreignTag, 'merger')).toEqual(strip(unknownTag, 'nope-tag'));

    const mine = await as('alice').post('/assistants', { name: 'Mine' });
    const id = (mine.json as { id: string }).id;
    expect(
      (await as('alice').put(`/assistants/${id}`, { name: 'y', fileIds: [carolFile] })).status,
    ).toBe(400);
    expect(
      (await as('alice').put(`/assistants/${id}`, { name: 'y', tags: ['merger'] })).status,
    ).toBe(400);
    expect((await as('alice').get(`/assistants/${id}`)).json).toMatchObject({
      fileIds: [],
      tags: [],
    });
  });

  it('requires credentials', async () => {
    expect((await api('GET', '/assistants', undefined, '')).status).toBe(401);
  });

  it("the app's registry refuses a non-member and sends a member's chosen assistant's instructions upstream", async () => {
    const created = await as('alice').post('/assistants', {
      name: 'Pirate',
      instructions: 'Always answer like a pirate.',
      sharedAccountIds: ['team-a'],
    });
    const id = (created.json as { id: string }).id;
    const registry = h.gateway.app.get(AssistantRegistry);
    const messages = [{ role: 'user' as const, content: 'Ahoy?\n#sim echo=1' }];
    const sel = (p: Principal) => ({
      principal: p,
      modelId: 'sim-gpt',
      messages,
      params: {},
      documents: [],
    });

    await expect(registry.select(sel(principal('carol', 'team-b')), id)).rejects.toMatchObject({
      code: 'not_found',
      status: 404,
    });

    const llm = h.gateway.app.get(LlmService);
    const caller: ModelCaller = {
      call: (modelId, m, params) => llm.stream(llm.resolve(modelId), { ...params, messages: m }),
    };
    const bob = principal('bob', 'team-a');
    const chosen = await registry.select(sel(bob), id);
    const events: ChatEvent[] = await lastValueFrom(
      chosen
        .run({
          ...sel(bob),
          requestId: 'r1',
          caller,
          docs: {
            search: () => Promise.resolve([]),
            read: () => Promise.reject(new Error('no')),
            list: () => Promise.resolve([]),
            content: () => Promise.reject(new Error('no')),
          },
          signal: new AbortController().signal,
        })
        .pipe(toArray()),
    );
    expect(events[0]).toEqual({
      type: 'state',
      state: { currentAssistant: { id, name: 'Pirate' } },
    });
    const reqs = (await (await fetch(`${h.sim.url}/_sim/requests?limit=1`)).json()) as {
      requests: Array<{ body: { messages: Array<{ role: string; content: string }> } }>;
    };
    expect(reqs.requests[0].body.messages[0]).toEqual({
      role: 'system',
      content: 'Always answer like a pirate.',
    });
  });
});

describe('assistant settings from the environment', () => {
  const offeredTools = async (h: Harness): Promise<string[]> => {
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('#sim tokens=2', {
        options: { model: { id: 'sim-gpt' }, assistantId: 'agent' },
      }),
    );
    expect(res.status).toBe(200);
    await res.text();
    const [req] = (
      (await (await fetch(`${h.sim.url}/_sim/requests?limit=1`)).json()) as {
        requests: Array<{ body: { tools?: Array<{ function: { name: string } }> } }>;
      }
    ).requests;
    return (req.body.tools ?? []).map((t) => t.function.name);
  };

  it(
    'offers fetch_url to the agent only when AGENT_FETCH_URL is on',
    async () => {
      const off = await startHarness();
      try {
        expect(await offeredTools(off)).not.toContain('fetch_url');
      } finally {
        await off.close();
      }
      const on = await startHarness({ AGENT_FETCH_URL: 'true' });
      try {
        expect(await offeredTools(on)).toContain('fetch_url');
      } finally {
        await on.close();
      }
    },
    BOOT_MS * 2,
  );

  it(
    'refuses to boot with a map model the catalogue does not serve, naming the setting',
    async () => {
      await expect(startHarness({ ASSISTANT_MAP_MODEL: 'no-such-model' })).rejects.toThrow(
        /mapModelId "no-such-model"/,
      );
    },
    BOOT_MS,
  );
});
