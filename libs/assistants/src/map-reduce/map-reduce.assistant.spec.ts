import { waitFor } from '@switchboard/common/testing';
import { estimateTextTokens, type ChatEvent, type ChatMessage } from '@switchboard/llm';
import fc from 'fast-check';
import { Subject, defer, throwError, type Observable } from 'rxjs';
import { resolveConfig } from '../assistants.config';
import type { CallParams, ModelCaller } from '../assistant.port';
import {
  collect,
  runContext,
  simRequests,
  startSimWorld,
  statuses,
  textOfEvents,
  type SimWorld,
} from '../testing/assistants.testing';
import { bucketDocuments } from './document-buckets';
import { MapReduceAssistant } from './map-reduce.assistant';

/** About 16k tokens: over five times the main model's 3000-token window. */
function bigReport(): string {
  const paras: string[] = [];
  for (let i = 1; i <= 220; i++)
    paras.push(
      `Section ${i}. Revenue in region ${i} grew by ${i % 17} percent while costs ` +
        `fell for product line ${i * 7}; the team of ${i + 3} people shipped ${i * 2} features. `.repeat(
          3,
        ),
    );
  return paras.join('\n\n');
}

describe('bucketDocuments', () => {
  it('keeps every bucket within capacity and loses no text (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 0, maxLength: 3000 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 120, max: 600 }),
        (texts, capacity) => {
          const docs = texts.map((text, i) => ({ fileId: `f${i}`, name: `d${i}`, text }));
          const buckets = bucketDocuments(docs, capacity);
          for (const b of buckets)
            expect(b.reduce((n, p) => n + estimateTextTokens(p.text), 0)).toBeLessThanOrEqual(
              capacity,
            );
          const squash = (s: string) => s.replace(/\s+/g, '');
          for (const d of docs) {
            const back = buckets
              .flat()
              .filter((p) => p.fileId === d.fileId)
              .map((p) => p.text)
              .join('');
            expect(squash(back)).toBe(squash(d.text));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('MapReduceAssistant against the simulator', () => {
  let world: SimWorld;
  beforeAll(async () => {
    world = await startSimWorld();
  });
  afterAll(() => world.close());
  beforeEach(async () => {
    world.caller.calls.length = 0;
    world.caller.maxInFlight = 0;
    await fetch(`${world.sim.url}/_sim/reset`, { method: 'POST' });
  });

  const deps = () => ({
    models: world.llm,
    config: resolveConfig({ mapModelId: 'cheap', mapConcurrency: 3 }),
  });
  const documents = [{ fileId: 'f-report', name: 'report.txt', text: bigReport() }];

  it('runs N map calls on the map model, at most 3 at a time, then one streamed reduce on the main model', async () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Summarise every section of the report.\n#sim ttft=30 tokens=6' },
    ];
    const a = new MapReduceAssistant(deps());
    const ctx = runContext(world, { messages, documents });
    const plan = a.plan(ctx);
    const n = plan.length - 1;
    expect(estimateTextTokens(documents[0].text)).toBeGreaterThan(5 * 3000);
    expect(n).toBeGreaterThanOrEqual(8);
    expect(plan.slice(0, n).every((c) => c.modelId === 'cheap')).toBe(true);
    expect(plan[n]).toMatchObject({ modelId: 'main', maxOutputTokens: 200 });

    const events = await collect(a.run(ctx));

    const reqs = await simRequests(world.sim);
    expect(reqs).toHaveLength(n + 1);
    expect(reqs.slice(0, n).every((r) => r.body.model === 'cheap-upstream')).toBe(true);
    expect(reqs[n].body.model).toBe('main-upstream');
    // every map call reads a different part, and carries the user's request
    const mapUsers = reqs.slice(0, n).map((r) => JSON.stringify(r.body.messages.at(-1)));
    expect(new Set(mapUsers).size).toBe(n);
    for (const u of mapUsers) expect(u).toContain('#sim ttft=30 tokens=6');
    expect(JSON.stringify(reqs.slice(0, n).map((r) => r.body))).toContain('Section 220.');
    // the reduce sees every part's notes and the question last
    const reduce = reqs[n].body.messages;
    expect(String(reduce[0].content)).toContain(`<notes part="${n} of ${n}">`);
    expect(reduce.at(-1)).toMatchObject({ role: 'user' });

    expect(world.caller.maxInFlight).toBe(3);
    const mapping = statuses(events)
      .filter((s) => s.id === 'map-reduce')
      .map((s) => s.message);
    expect(mapping.slice(0, n + 1)).toEqual(
      Array.from({ length: n + 1 }, (_, i) => `mapping ${i}/${n}`),
    );
    expect(mapping.at(-1)).toBe(`read ${n} parts; writing the answer`);
    expect(textOfEvents(events).split(' ').filter(Boolean)).toHaveLength(6);
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });

    // the plan that sizes the budget hold covers what the provider reported for every call
    const calls = world.caller.calls;
    expect(calls.map((c) => c.modelId)).toEqual(plan.map((c) => c.modelId));
    calls.forEach((c, i) => {
      expect(c.usage!.inputTokens).toBeLessThanOrEqual(plan[i].promptTokens);
      expect(c.usage!.outputTokens).toBeLessThanOrEqual(plan[i].maxOutputTokens);
    });
  });

  it('retries a failed map call once, then continues', async () => {
    let failed = false;
    const flaky: ModelCaller = {
      call: (modelId: string, messages: ChatMessage[], params: CallParams): Observable<ChatEvent> =>
        defer(() => {
          if (modelId === 'cheap' && !failed) {
            failed = true;
            return throwError(() => new Error('upstream broke'));
          }
          return world.caller.call(modelId, messages, params);
        }),
    };
    const messages: ChatMessage[] = [{ role: 'user', content: 'Summarise.\n#sim tokens=3' }];
    const a = new MapReduceAssistant(deps());
    const ctx = { ...runContext(world, { messages, documents }), caller: flaky };
    const n = a.plan(ctx).length - 1;
    const events = await collect(a.run(ctx));
    expect(failed).toBe(true);
    expect(world.caller.calls.filter((c) => c.modelId === 'cheap')).toHaveLength(n);
    expect(statuses(events).at(-1)?.message).toBe(`read ${n} parts; writing the answer`);
  });

  it('reports a part that fails twice as unread to the reduce call', async () => {
    let fails = 0;
    const broken: ModelCaller = {
      call: (modelId: string, messages: ChatMessage[], params: CallParams): Observable<ChatEvent> =>
        defer(() => {
          if (modelId === 'cheap' && JSON.stringify(messages).includes('Part 1 of')) {
            fails++;
            return throwError(() => new Error('upstream broke'));
          }
          return world.caller.call(modelId, messages, params);
        }),
    };
    const messages: ChatMessage[] = [{ role: 'user', content: 'Summarise.\n#sim echo=1' }];
    const a = new MapReduceAssistant(deps());
    const ctx = { ...runContext(world, { messages, documents }), caller: broken };
    const n = a.plan(ctx).length - 1;
    const events = await collect(a.run(ctx));
    expect(fails).toBe(2);
    expect(statuses(events).at(-1)?.message).toBe(
      `read ${n - 1} of ${n} parts; writing the answer`,
    );
    const reqs = await simRequests(world.sim);
    expect(JSON.stringify(reqs.at(-1)!.body)).toContain('[this part could not be read]');
  });

  it('cancelling mid-map aborts every in-flight map call at the simulator', async () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Summarise.\n#sim ttft=5000' }];
    const a = new MapReduceAssistant(deps());
    const events = new Subject<ChatEvent>();
    const sub = a.run(runContext(world, { messages, documents })).subscribe(events);
    const stats = async () =>
      (await (await fetch(`${world.sim.url}/_sim/stats`)).json()) as Record<string, number>;
    await waitFor(async () => (await stats()).open >= 3, { what: 'three map calls open' });
    expect((await stats()).open).toBe(3);
    sub.unsubscribe();
    await waitFor(async () => (await stats()).aborted >= 3, { what: 'three map calls aborted' });
    const s = await stats();
    expect(s.aborted).toBe(3);
    expect(s.open).toBe(0);
    expect(s.started).toBe(3);
  });
});
