import {
  AccountService,
  SqlAccountRepository,
  identityMigrations,
  type Principal,
} from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import { Migrator, type PgliteDatabase } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { AssistantRegistry } from '../assistant-registry';
import {
  FakeDocumentAccess,
  collect,
  runContext,
  simRequests,
  startSimWorld,
  statuses,
  textOfEvents,
  type SimWorld,
} from '../testing/assistants.testing';
import { assistantMigrations } from './assistant.migrations';
import { SqlAssistantRepository } from './assistant.repository';
import { AssistantService, type DocumentVisibility } from './assistant.service';
import type { AssistantInput } from './assistant.types';

const principal = (userId: string, scopes: Principal['scopes'] = ['chat']): Principal => ({
  kind: 'user',
  userId,
  accountIds: [],
  scopes,
  limits: {},
});
/** files readable per user, with their tags (what the files domain would answer) */
const READABLE: Record<string, Array<{ id: string; tags: string[] }>> = {
  owner: [
    { id: 'f-1', tags: ['hr'] },
    { id: 'f-2', tags: [] },
  ],
  stranger: [{ id: 'f-secret', tags: ['merger'] }],
};
const documents: DocumentVisibility = {
  readableFileIds: (p, ids) =>
    Promise.resolve((READABLE[p.userId] ?? []).map((f) => f.id).filter((id) => ids.includes(id))),
  readableTags: (p, tags) =>
    Promise.resolve(tags.filter((t) => (READABLE[p.userId] ?? []).some((f) => f.tags.includes(t)))),
};
const owner = principal('owner');
const member = principal('member');
const stranger = principal('stranger');

const input = (over: Partial<AssistantInput> = {}): AssistantInput => ({
  name: 'Support bot',
  instructions: 'Always answer like a pirate.',
  model: null,
  fileIds: [],
  tags: [],
  tools: [],
  sharedAccountIds: [],
  ...over,
});

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    return e as AppError;
  }
  throw new Error('expected a rejection');
}

describe('user-defined assistants (PGlite, real account membership, simulator)', () => {
  let db: PgliteDatabase;
  let world: SimWorld;
  let accounts: AccountService;
  let service: AssistantService;
  let registry: AssistantRegistry;

  beforeAll(async () => {
    [db, world] = await Promise.all([createTestPglite(), startSimWorld()]);
    await new Migrator(db).migrate([...identityMigrations, ...assistantMigrations]);
    accounts = new AccountService(new SqlAccountRepository(db), { membershipCacheTtlMs: 0 });
    service = new AssistantService(new SqlAssistantRepository(db), accounts, world.llm, documents);
    registry = new AssistantRegistry({ models: world.llm, store: service });
    await accounts.create({ id: 'team-a', name: 'Team A' });
    await accounts.create({ id: 'team-b', name: 'Team B' });
    await accounts.addMember('team-a', 'owner');
    await accounts.addMember('team-a', 'member');
    await accounts.addMember('team-b', 'stranger');
  });
  afterAll(async () => {
    await Promise.all([db.close(), world.close()]);
  });
  beforeEach(() => {
    world.caller.calls.length = 0;
  });

  const sel = (p: Principal, text = 'Hello?\n#sim echo=1') => ({
    principal: p,
    modelId: 'main',
    messages: [{ role: 'user' as const, content: text }],
    params: {},
    documents: [],
  });

  it('lets the owner and members of a shared account use it; a non-member gets exactly the answer of a missing id', async () => {
    const a = await service.create(owner, input({ sharedAccountIds: ['team-a'] }));
    expect((await registry.select(sel(owner), a.id)).id).toBe(a.id);
    expect((await registry.select(sel(member), a.id)).id).toBe(a.id);
    const refused = await rejection(registry.select(sel(stranger), a.id));
    const missing = await rejection(registry.select(sel(stranger), 'asst_missing'));
    expect(refused).toMatchObject({ code: 'not_found', status: 404 });
    expect([refused.code, refused.status, refused.message, refused.extra.param]).toEqual([
      missing.code,
      missing.status,
      missing.message,
      missing.extra.param,
    ]);
  });

  it('refuses file ids and tags the author cannot read exactly like unknown ones', async () => {
    const foreignFile = await rejection(service.create(owner, input({ fileIds: ['f-secret'] })));
    const unknownFile = await rejection(service.create(owner, input({ fileIds: ['f-nope'] })));
    expect(foreignFile).toMatchObject({ code: 'invalid_request', extra: { param: 'fileIds' } });
    expect(foreignFile.message.replace('f-secret', 'X')).toBe(
      unknownFile.message.replace('f-nope', 'X'),
    );
    const foreignTag = await rejection(service.create(owner, input({ tags: ['merger'] })));
    const unknownTag = await rejection(service.create(owner, input({ tags: ['nope'] })));
    expect(foreignTag).toMatchObject({ code: 'invalid_request', extra: { param: 'tags' } });
    expect(foreignTag.message.replace('merger', 'X')).toBe(unknownTag.message.replace('nope', 'X'));

    const a = await service.create(owner, input({ fileIds: ['f-1'], tags: ['hr'] }));
    expect(
      (await rejection(service.update(owner, a.id, input({ fileIds: ['f-1', 'f-secret'] })))).extra
        .param,
    ).toBe('fileIds');
    expect(
      (await rejection(service.update(owner, a.id, input({ tags: ['hr', 'merger'] })))).extra.param,
    ).toBe('tags');
    expect(await service.get(owner, a.id)).toMatchObject({ fileIds: ['f-1'], tags: ['hr'] });
  });

  it('looks membership up when it is checked: a removed member is refused on the next request', async () => {
    const a = await service.create(owner, input({ sharedAccountIds: ['team-a'] }));
    await accounts.addMember('team-a', 'leaver');
    expect((await registry.select(sel(principal('leaver')), a.id)).id).toBe(a.id);
    await accounts.removeMember('team-a', 'leaver');
    expect((await rejection(registry.select(sel(principal('leaver')), a.id))).code).toBe(
      'not_found',
    );
  });

  it("sends the assistant's instructions first in the upstream prompt and announces it", async () => {
    const a = await service.create(owner, input({ name: 'Pirate' }));
    const chosen = await registry.select(sel(owner), a.id);
    const ctx = runContext(world, { principal: owner, messages: sel(owner).messages });
    const events = await collect(chosen.run(ctx));
    expect(events[0]).toEqual({
      type: 'state',
      state: { currentAssistant: { id: a.id, name: 'Pirate' } },
    });
    expect(textOfEvents(events)).toContain('Always answer like a pirate.');
    const [req] = await simRequests(world.sim, 1);
    expect(req.body.messages[0]).toEqual({
      role: 'system',
      content: 'Always answer like a pirate.',
    });
  });

  it('always uses attached files through retrieval, scoped to those files, and the passages reach the prompt', async () => {
    const docs = new FakeDocumentAccess([
      {
        fileId: 'f-1',
        name: 'handbook.md',
        tags: [],
        text: 'Holiday allowance is 28 days per year.',
      },
      { fileId: 'f-2', name: 'other.md', tags: [], text: 'Holiday parties are in December.' },
    ]);
    const a = await service.create(owner, input({ fileIds: ['f-1'], model: 'cheap' }));
    const chosen = await registry.select(sel(owner), a.id);
    expect(chosen.answerModel!({ modelId: 'main' })).toBe('cheap');
    expect(
      chosen.plan!(runContext(world, { messages: sel(owner).messages })).map((c) => c.modelId),
    ).toEqual(['cheap']);
    const messages = [
      { role: 'user' as const, content: 'How much holiday allowance?\n#sim echo=1' },
    ];
    const events = await collect(
      chosen.run(runContext(world, { principal: owner, messages, docs })),
    );
    expect(docs.searches).toEqual([
      { query: messages[0].content, opts: { fileIds: ['f-1'], tags: undefined, k: 8 } },
    ]);
    expect(statuses(events).map((s) => s.message)).toEqual([
      "searching the assistant's files",
      "found 1 passages in the assistant's files",
    ]);
    const answer = textOfEvents(events);
    expect(answer).toContain('<document source="handbook.md" id="f-1" location="chunk 1">');
    expect(answer).not.toContain('December');
    // the assistant's own model answers
    expect(world.caller.calls.map((c) => c.modelId)).toEqual(['cheap']);
  });

  it('runs the agent loop with only the enabled tools', async () => {
    const docs = new FakeDocumentAccess([{ fileId: 'f-1', name: 'a.md', tags: [], text: 'alpha' }]);
    const a = await service.create(owner, input({ tools: ['list_documents'] }));
    const chosen = await registry.select(sel(owner), a.id);
    const messages = [{ role: 'user' as const, content: '#sim tool=list_documents args={}' }];
    const events = await collect(
      chosen.run(runContext(world, { principal: owner, messages, docs })),
    );
    expect(world.caller.calls[0].params.tools!.map((t) => t.name)).toEqual(['list_documents']);
    expect(textOfEvents(events)).toContain(
      'Tool list_documents returned: {"documents":[{"fileId":"f-1"',
    );
  });

  it('refuses code_interpreter on a model without it with unsupported_capability', async () => {
    const a = await service.create(owner, input({ tools: ['code_interpreter'] }));
    expect((await rejection(registry.select(sel(owner), a.id))).code).toBe(
      'unsupported_capability',
    );
  });

  describe('CRUD rules', () => {
    it('lists own assistants and those shared with my accounts, not others', async () => {
      const mine = await service.create(member, input({ name: 'mine' }));
      const shared = await service.create(
        owner,
        input({ name: 'shared', sharedAccountIds: ['team-a'] }),
      );
      const foreign = await service.create(stranger, input({ name: 'foreign' }));
      const ids = (await service.list(member)).map((a) => a.id);
      expect(ids).toEqual(expect.arrayContaining([mine.id, shared.id]));
      expect(ids).not.toContain(foreign.id);
    });

    it('lets only the owner write; hides assistants from non-members as not_found', async () => {
      const a = await service.create(owner, input({ sharedAccountIds: ['team-a'] }));
      expect((await rejection(service.update(member, a.id, input({ name: 'x' })))).code).toBe(
        'forbidden',
      );
      expect((await rejection(service.delete(member, a.id))).code).toBe('forbidden');
      expect((await rejection(service.get(stranger, a.id))).code).toBe('not_found');
      expect((await rejection(service.delete(stranger, a.id))).code).toBe('not_found');
      const updated = await service.update(
        owner,
        a.id,
        input({ name: 'Renamed', tags: ['hr'], sharedAccountIds: ['team-a'] }),
      );
      expect(updated).toMatchObject({ name: 'Renamed', tags: ['hr'] });
      expect(await service.get(member, a.id)).toMatchObject({ name: 'Renamed' });
      await service.delete(owner, a.id);
      expect((await rejection(service.get(owner, a.id))).code).toBe('not_found');
    });

    it('refuses sharing with an account the owner does not belong to', async () => {
      const e = await rejection(service.create(owner, input({ sharedAccountIds: ['team-b'] })));
      expect(e.code).toBe('forbidden');
    });

    it('refuses an unknown model', async () => {
      expect((await rejection(service.create(owner, input({ model: 'nope' })))).code).toBe(
        'model_not_found',
      );
    });

    it('keeps fetch_url for administrators, and only when the operator enabled it', async () => {
      expect((await rejection(service.create(owner, input({ tools: ['fetch_url'] })))).code).toBe(
        'invalid_request',
      );
      const enabled = new AssistantService(
        new SqlAssistantRepository(db),
        accounts,
        world.llm,
        documents,
        { fetchUrlEnabled: true },
      );
      expect((await rejection(enabled.create(owner, input({ tools: ['fetch_url'] })))).code).toBe(
        'forbidden',
      );
      const admin = principal('owner', ['admin']);
      expect((await enabled.create(admin, input({ tools: ['fetch_url'] }))).tools).toEqual([
        'fetch_url',
      ]);
    });
  });
});
