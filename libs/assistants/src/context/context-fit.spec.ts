import { AppError } from '@switchboard/common';
import { estimatePromptTokens, type ChatEvent, type ChatMessage } from '@switchboard/llm';
import { defer, throwError, type Observable } from 'rxjs';
import { resolveConfig } from '../assistants.config';
import type { CallParams, ModelCaller } from '../assistant.port';
import { DefaultAssistant } from '../default.assistant';
import {
  TEST_CATALOGUE,
  collect,
  runContext,
  simRequests,
  startSimWorld,
  statuses,
  type SimWorld,
} from '../testing/assistants.testing';
import { planFit } from './context-fit';

const main = TEST_CATALOGUE.find((m) => m.id === 'main')!;

/** 300 turns (600 messages), each about 20 tokens: four times the 3000-token window. */
function longConversation(last: string): ChatMessage[] {
  const m: ChatMessage[] = [{ role: 'system', content: 'You are the project historian.' }];
  for (let i = 0; i < 300; i++) {
    m.push({
      role: 'user',
      content: `Turn ${i}: what happened to milestone ${i} of project Kestrel?`,
    });
    m.push({
      role: 'assistant',
      content: `Milestone ${i} shipped on day ${i * 3} with ${i % 9} open bugs.`,
    });
  }
  m.push({ role: 'user', content: last });
  return m;
}

describe('context overflow against the simulator', () => {
  let world: SimWorld;
  beforeAll(async () => {
    world = await startSimWorld();
  });
  afterAll(() => world.close());
  beforeEach(async () => {
    world.caller.calls.length = 0;
    await fetch(`${world.sim.url}/_sim/reset`, { method: 'POST' });
  });
  const deps = () => ({ models: world.llm, config: resolveConfig({ summaryModelId: 'cheap' }) });

  it('trims a 300-turn conversation, summarises the dropped turns with the cheaper model, and always sends the last user message', async () => {
    const last = 'So which milestones slipped?\n#sim echo=1';
    const messages = longConversation(last);
    const events = await collect(new DefaultAssistant(deps()).run(runContext(world, { messages })));

    const st = statuses(events);
    expect(st[0]).toMatchObject({
      id: 'context',
      message: 'summarising earlier conversation',
      inProgress: true,
    });
    expect(st[1]).toMatchObject({ id: 'context', inProgress: false });
    expect(st[1].message).toMatch(/^summarised \d+ earlier messages$/);

    const reqs = await simRequests(world.sim);
    expect(reqs.map((r) => r.body.model)).toEqual(['cheap-upstream', 'main-upstream']);
    // the summary call saw the dropped turns and, last, the user's message
    const summaryUser = String(reqs[0].body.messages.at(-1)!.content);
    expect(summaryUser).toContain('Turn ');
    expect(summaryUser.endsWith(last)).toBe(true);

    const sent = reqs[1].body.messages;
    expect(sent.length).toBeLessThan(messages.length / 4);
    expect(sent[0]).toEqual({ role: 'system', content: 'You are the project historian.' });
    expect(sent[1].role).toBe('system');
    expect(String(sent[1].content)).toMatch(
      /^Summary of the earlier conversation \(\d+ messages not shown\):\n/,
    );
    expect(sent.at(-1)).toEqual({ role: 'user', content: last });
    expect(sent.at(-2)).toEqual({ role: 'assistant', content: messages.at(-2)!.content });
    expect(sent.some((m) => m.content === messages[1].content)).toBe(false);
    // it fits: the fitted prompt plus the reserved answer is within the window
    const fitted = world.caller.calls[1].messages;
    expect(estimatePromptTokens(fitted) + main.maxOutputTokens).toBeLessThanOrEqual(
      main.contextWindow,
    );
  });

  it('still answers, trimmed, when the summary call fails', async () => {
    const failing: ModelCaller = {
      call: (modelId: string, m: ChatMessage[], p: CallParams): Observable<ChatEvent> =>
        defer(() =>
          modelId === 'cheap'
            ? throwError(() => new Error('summary model down'))
            : world.caller.call(modelId, m, p),
        ),
    };
    const last = 'Which slipped?\n#sim echo=1';
    const events = await collect(
      new DefaultAssistant(deps()).run({
        ...runContext(world, { messages: longConversation(last) }),
        caller: failing,
      }),
    );
    expect(statuses(events).at(-1)!.message).toMatch(
      /^could not summarise; dropped \d+ earlier messages to fit the context window$/,
    );
    const sent = (await simRequests(world.sim)).at(-1)!.body.messages;
    expect(sent.at(-1)).toEqual({ role: 'user', content: last });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('plans the summary call and the answer for the budget hold', () => {
    const plan = new DefaultAssistant(deps()).plan(
      runContext(world, { messages: longConversation('Which slipped?') }),
    );
    expect(plan.map((c) => c.modelId)).toEqual(['cheap', 'main']);
  });

  it('leaves a conversation that fits untouched, with no summary call', async () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'bye\n#sim echo=1' },
    ];
    const events = await collect(new DefaultAssistant(deps()).run(runContext(world, { messages })));
    expect(statuses(events)).toEqual([]);
    expect(world.caller.calls).toHaveLength(1);
    expect(world.caller.calls[0].messages).toEqual(messages);
  });
});

describe('planFit', () => {
  it('never drops the system prompt or the last user message, and drops oldest first', () => {
    for (const n of [1, 10, 100, 300]) {
      const messages = longConversation('last question');
      const conv = [messages[0], ...messages.slice(messages.length - 1 - 2 * n)];
      const plan = planFit({ messages: conv, model: main, maxOutputTokens: 200 });
      const kept = [...plan.split.system, ...plan.kept, ...plan.split.tail];
      expect(kept[0]).toBe(conv[0]);
      expect(kept.at(-1)).toBe(conv.at(-1));
      expect([...plan.dropped, ...plan.kept]).toEqual(conv.slice(1, -1));
    }
  });

  it('refuses with context_length_exceeded when the last message alone overflows', () => {
    const huge = 'word '.repeat(5000);
    let err: unknown;
    try {
      planFit({ messages: [{ role: 'user', content: huge }], model: main, maxOutputTokens: 200 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('context_length_exceeded');
  });

  it('does not keep a tool result whose tool call was dropped', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'first' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'c1', name: 't', arguments: JSON.stringify({ q: 'y '.repeat(2000) }) }],
      },
      { role: 'tool', toolCallId: 'c1', content: 'result '.repeat(800) },
      { role: 'assistant', content: 'done' },
      { role: 'user', content: 'next' },
    ];
    const plan = planFit({ messages, model: main, maxOutputTokens: 200 });
    expect(plan.fits).toBe(false);
    // the tool result alone would fit, but without its call it is dropped too
    expect(plan.kept.map((m) => m.role)).toEqual(['assistant']);
    expect(plan.dropped.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
  });
});
