import { AppError } from '@switchboard/common';
import type { Artifact } from '@switchboard/llm';
import type { ArtifactStore, SavedArtifact } from '../assistant.port';
import { resolveConfig } from '../assistants.config';
import {
  FakeDocumentAccess,
  collect,
  runContext,
  simRequests,
  startSimWorld,
  statuses,
  textOfEvents,
  TEST_CATALOGUE,
  type SimWorld,
} from '../testing/assistants.testing';
import { UserDefinedAssistant } from '../user-defined/user-defined.assistant';
import { CodeInterpreterAssistant } from './code-interpreter.assistant';

/** Keeps files in memory; refuses names starting with "bad" the way the files service refuses. */
class MemoryArtifactStore implements ArtifactStore {
  readonly saved: Artifact[] = [];

  save(a: Artifact): Promise<SavedArtifact> {
    if (a.name.startsWith('bad'))
      return Promise.reject(
        new AppError('unsupported_media_type', 'The file type is not supported.'),
      );
    this.saved.push(a);
    return Promise.resolve({
      fileId: `file-${this.saved.length}`,
      name: a.name,
      mime: a.name.endsWith('.png') ? 'image/png' : 'text/csv',
      size: a.data.byteLength,
    });
  }
}

const deps = {
  models: {
    resolve: (id: string) => {
      const m = TEST_CATALOGUE.find((x) => x.id === id);
      if (!m) throw new AppError('model_not_found');
      return m;
    },
  },
  config: resolveConfig(),
};

/** One simulator for every test here, reset between tests. */
let world: SimWorld;
beforeAll(async () => {
  world = await startSimWorld();
});
afterAll(() => world.close());
beforeEach(() => {
  world.sim.reset();
  world.caller.calls.length = 0;
});

describe('code interpreter assistant against the simulator', () => {
  it('runs the model with hosted code execution, streams the answer and stores every produced file', async () => {
    const store = new MemoryArtifactStore();
    const events = await collect(
      new CodeInterpreterAssistant(deps).run(
        runContext(world, {
          modelId: 'coder',
          messages: [{ role: 'user', content: 'Chart it\n#sim tokens=5 files=data.csv,chart.png' }],
          artifacts: store,
        }),
      ),
    );
    expect(world.caller.calls[0].params.hostedTools).toEqual([{ type: 'code_interpreter' }]);
    expect(textOfEvents(events).split(' ')).toHaveLength(5);
    expect(store.saved.map((a) => a.name)).toEqual(['data.csv', 'chart.png']);
    expect(statuses(events).map((s) => s.message)).toEqual([
      'running code',
      'ran code',
      'saved data.csv',
      'saved chart.png',
    ]);
    const states = events.flatMap((e) => (e.type === 'state' ? [e.state] : []));
    expect(states.at(-1)).toEqual({
      generatedFiles: [
        {
          fileId: 'file-1',
          name: 'data.csv',
          mime: 'text/csv',
          size: expect.any(Number) as number,
        },
        {
          fileId: 'file-2',
          name: 'chart.png',
          mime: 'image/png',
          size: expect.any(Number) as number,
        },
      ],
    });
    expect(events.some((e) => e.type === 'artifact')).toBe(false);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('reports a file the store refuses and keeps the others and the answer', async () => {
    const store = new MemoryArtifactStore();
    const events = await collect(
      new CodeInterpreterAssistant(deps).run(
        runContext(world, {
          modelId: 'coder',
          messages: [{ role: 'user', content: '#sim tokens=2 files=bad.bin,good.csv' }],
          artifacts: store,
        }),
      ),
    );
    expect(statuses(events).filter((s) => s.id.startsWith('artifact-'))).toEqual([
      expect.objectContaining({
        message: 'could not save bad.bin: The file type is not supported.',
        ok: false,
      }),
      expect.objectContaining({ message: 'saved good.csv', ok: true }),
    ]);
    expect(store.saved.map((a) => a.name)).toEqual(['good.csv']);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('says so when files cannot be stored at all', async () => {
    const events = await collect(
      new CodeInterpreterAssistant(deps).run(
        runContext(world, {
          modelId: 'coder',
          messages: [{ role: 'user', content: '#sim tokens=2 files=a.csv' }],
        }),
      ),
    );
    expect(statuses(events).at(-1)).toMatchObject({
      message: 'could not save a.csv: file storage is not available',
      ok: false,
    });
  });

  it('gives a user-defined assistant with code_interpreter hosted execution and its instructions', async () => {
    const store = new MemoryArtifactStore();
    const a = new UserDefinedAssistant(
      {
        id: 'asst-1',
        ownerUserId: 'user-1',
        name: 'Analyst',
        instructions: 'You are a careful data analyst.',
        model: 'coder',
        fileIds: [],
        tags: [],
        tools: ['code_interpreter'],
        sharedAccountIds: [],
        createdAt: new Date(),
        updatedAt: new Date(),
      },
      deps,
    );
    const events = await collect(
      a.run(
        runContext(world, {
          messages: [{ role: 'user', content: '#sim tokens=3 files=out.csv' }],
          artifacts: store,
        }),
      ),
    );
    const [call] = world.caller.calls;
    expect(call.modelId).toBe('coder');
    expect(call.params.hostedTools).toEqual([{ type: 'code_interpreter' }]);
    expect(call.params.tools).toBeUndefined();
    expect(call.messages[0]).toEqual({
      role: 'system',
      content: 'You are a careful data analyst.',
    });
    expect(store.saved.map((f) => f.name)).toEqual(['out.csv']);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });
});

describe('code interpreter: the documents go into the sandbox as files', () => {
  const csv = 'month,revenue\n1,100\n2,120\n';
  const liveUploads = async () =>
    (await (await fetch(`${world.sim.url}/_sim/files`)).json()) as
      { files?: unknown[] } | unknown[];

  it('uploads each document, mounts it in the container, keeps its text out of the prompt and deletes the upload', async () => {
    const docs = new FakeDocumentAccess([
      { fileId: 'f-1', name: 'sales.csv', tags: [], text: csv, mime: 'text/csv' },
      { fileId: 'f-2', name: 'sales.csv', tags: [], text: 'x,y\n', mime: 'text/csv' },
    ]);
    const events = await collect(
      new CodeInterpreterAssistant(deps).run(
        runContext(world, {
          modelId: 'coder',
          messages: [{ role: 'user', content: 'Total revenue?\n#sim tokens=3' }],
          documents: [
            { fileId: 'f-1', name: 'sales.csv', text: csv },
            { fileId: 'f-2', name: 'sales.csv', text: 'x,y\n' },
          ],
          docs,
        }),
      ),
    );
    expect(statuses(events)[0]).toMatchObject({
      id: 'sandbox-files',
      message: 'put 2 file(s) in the code sandbox',
      files: ['sales.csv', 'sales-2.csv'],
    });
    const ran = statuses(events).find((s) => s.message === 'ran code')!;
    expect(String(ran.logs)).toContain(
      `read /mnt/data/sales.csv (${Buffer.byteLength(csv)} bytes)`,
    );
    expect(String(ran.logs)).toContain('read /mnt/data/sales-2.csv (4 bytes)');

    const [req] = await simRequests(world.sim);
    const body = req.body as unknown as {
      tools: Array<{ container: { file_ids: string[] } }>;
      input: Array<{ role?: string; content?: unknown }>;
    };
    expect(body.tools[0].container.file_ids).toHaveLength(2);
    const prompt = JSON.stringify(body.input);
    expect(prompt).toContain("The user's files are in /mnt/data: sales.csv, sales-2.csv");
    expect(prompt).not.toContain('1,100');
    const live = await liveUploads();
    expect(Array.isArray(live) ? live : live.files).toEqual([]);
  });

  it('gives a document as text when its file is over the sandbox limit, and says so', async () => {
    const small = {
      ...deps,
      config: resolveConfig({ sandboxMaxFileBytes: 10 }),
    };
    const docs = new FakeDocumentAccess([
      { fileId: 'f-1', name: 'big.csv', tags: [], text: csv, mime: 'text/csv' },
    ]);
    const events = await collect(
      new CodeInterpreterAssistant(small).run(
        runContext(world, {
          modelId: 'coder',
          messages: [{ role: 'user', content: '#sim tokens=2' }],
          documents: [{ fileId: 'f-1', name: 'big.csv', text: csv }],
          docs,
        }),
      ),
    );
    expect(statuses(events)[0]).toMatchObject({
      id: 'sandbox-files-text',
      warning: true,
      message: expect.stringContaining('big.csv') as string,
    });
    const [req] = await simRequests(world.sim);
    expect(JSON.stringify(req.body)).toContain('1,100');
    expect(JSON.stringify(req.body)).not.toContain('file_ids');
  });

  it('holds the documents as prompt even though they go as files (a fallback sends them as text)', () => {
    const docs = [{ fileId: 'f-1', name: 'sales.csv', text: 'lorem ipsum '.repeat(200) }];
    const ctx = {
      ...runContext(world, { modelId: 'coder', messages: [{ role: 'user', content: 'sum it' }] }),
      documents: docs,
    };
    const withDocs = new CodeInterpreterAssistant(deps).plan(ctx);
    const without = new CodeInterpreterAssistant(deps).plan({ ...ctx, documents: [] });
    expect(withDocs.at(-1)!.promptTokens).toBeGreaterThan(without.at(-1)!.promptTokens + 300);
    expect(withDocs.at(-1)!.codeInterpreterSessions).toBe(1);
  });
});
