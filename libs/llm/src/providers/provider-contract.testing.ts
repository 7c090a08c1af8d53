import { waitFor as waitForCondition } from '@switchboard/common/testing';
import {
  embedText,
  promptTokens,
  startSimulator,
  type RecordedRequest,
  type RunningSimulator,
  type SimProtocol,
} from '@switchboard/simulator';
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';
import type { ChatEvent, ChatMessage, ProviderChatRequest, ToolCall } from '../chat.types';
import type { LlmProvider } from '../provider.port';
import { UpstreamError } from '../upstream-error';

/**
 * The behaviour every provider adapter must show against the simulator, through
 * its real SDK over HTTP. Provider specs call `describeProviderContract` and add
 * their own request-shape tests with the returned context.
 */

export interface ContractTarget {
  provider: LlmProvider;
  protocol: SimProtocol;
  chatModel: string;
  embeddingModel: string;
  /** default vector size of `embeddingModel` in the simulator */
  embeddingDimensions: number;
  /** whether the upstream reports reasoning tokens apart from output tokens */
  reportsReasoning: boolean;
  /** whether the adapter asks upstream for a non-streaming answer when the caller reads it whole */
  answersWhole: boolean;
  close?(): void;
}

export interface ContractContext {
  sim(): RunningSimulator;
  target(): ContractTarget;
  /** requests the simulator received since the last reset, oldest first */
  requests(): Promise<RecordedRequest[]>;
}

export async function collect(source: Observable<ChatEvent>): Promise<ChatEvent[]> {
  return lastValueFrom(source.pipe(toArray()));
}

/** Collects events until the source errors; returns both. */
export async function collectUntilError(
  source: Observable<ChatEvent>,
): Promise<{ events: ChatEvent[]; error: unknown }> {
  const events: ChatEvent[] = [];
  const error = await new Promise<unknown>((resolve) => {
    source.subscribe({
      next: (e) => events.push(e),
      error: (e: unknown) => resolve(e),
      complete: () => resolve(undefined),
    });
  });
  return { events, error };
}

export function textOf(events: ChatEvent[]): string {
  return events.map((e) => (e.type === 'text' ? e.text : '')).join('');
}

/** Folds tool_call deltas into whole calls, by index. */
export function toolCallsOf(events: ChatEvent[]): ToolCall[] {
  const calls = new Map<number, ToolCall>();
  for (const e of events) {
    if (e.type !== 'tool_call') continue;
    const c = calls.get(e.index) ?? { id: '', name: '', arguments: '' };
    if (e.id) c.id = e.id;
    if (e.name) c.name += e.name;
    if (e.argumentsDelta) c.arguments += e.argumentsDelta;
    calls.set(e.index, c);
  }
  return [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

/** `waitFor` of `@switchboard/common/testing`, with the timeout as second argument */
export function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  return waitForCondition(predicate, { timeoutMs, intervalMs: 2 });
}

export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/**
 * The provider contract as Jest cases for one adapter. Longer than 80 lines on purpose:
 * it is the list of cases every adapter must pass, kept in one place.
 */
export function describeProviderContract(
  title: string,
  make: (simUrl: string) => ContractTarget,
): ContractContext {
  let sim: RunningSimulator;
  let target: ContractTarget;
  const ctx: ContractContext = {
    sim: () => sim,
    target: () => target,
    requests: async () => {
      const res = await fetch(`${sim.url}/_sim/requests`);
      return ((await res.json()) as { requests: RecordedRequest[] }).requests;
    },
  };
  const request = (
    messages: ChatMessage[],
    extra: Partial<ProviderChatRequest> = {},
  ): ProviderChatRequest => ({
    upstreamModel: target.chatModel,
    messages,
    ...extra,
  });

  beforeAll(async () => {
    sim = await startSimulator();
    target = make(sim.url);
  });
  afterAll(async () => {
    target?.close?.();
    await sim?.close();
  });
  beforeEach(() => sim.reset());

  describe(`${title}: provider contract against the simulator`, () => {
    it('streams text, then one usage event with the exact token counts, then finish', async () => {
      const system = 'You answer briefly.';
      const user = 'Hello there\n#sim tokens=5 cached=7 reasoning=3';
      const events = await collect(
        target.provider.stream(
          request([
            { role: 'system', content: system },
            { role: 'user', content: user },
          ]),
        ),
      );
      const prompt = promptTokens([
        { role: 'system', text: system },
        { role: 'user', text: user },
      ]);
      expect(textOf(events)).toBe('The quick brown fox jumps');
      expect(events.filter((e) => e.type === 'text')).toHaveLength(5);
      expect(events.slice(-2)).toEqual([
        {
          type: 'usage',
          usage: {
            inputTokens: prompt + 7,
            cachedInputTokens: 7,
            outputTokens: 5 + 3,
            reasoningTokens: target.reportsReasoning ? 3 : 0,
          },
        },
        { type: 'finish', reason: 'stop' },
      ]);
      expect((await ctx.requests()).map((r) => r.protocol)).toEqual([target.protocol]);
    });

    it('round-trips a tool call: streamed call, then the tool result fed back', async () => {
      const user: ChatMessage = {
        role: 'user',
        content: 'Weather?\n#sim tool=get_weather args={"city":"Paris"}',
      };
      const first = await collect(
        target.provider.stream(request([user], { tools: [WEATHER_TOOL] })),
      );
      const calls = toolCallsOf(first);
      expect(calls).toHaveLength(1);
      expect(calls[0].id).not.toBe('');
      expect(calls[0].name).toBe('get_weather');
      expect(JSON.parse(calls[0].arguments)).toEqual({ city: 'Paris' });
      expect(first.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
      expect(first.filter((e) => e.type === 'usage')).toHaveLength(1);

      const second = await collect(
        target.provider.stream(
          request(
            [
              user,
              { role: 'assistant', content: '', toolCalls: calls },
              { role: 'tool', toolCallId: calls[0].id, content: '{"temp_c":21}' },
            ],
            { tools: [WEATHER_TOOL] },
          ),
        ),
      );
      expect(textOf(second)).toBe('Tool get_weather returned: {"temp_c":21}');
      expect(second.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    });

    it('maps 429 to a retryable upstream_rate_limited UpstreamError carrying Retry-After', async () => {
      const { events, error } = await collectUntilError(
        target.provider.stream(request([{ role: 'user', content: '#sim fail=429' }])),
      );
      expect(events).toEqual([]);
      expect(error).toBeInstanceOf(UpstreamError);
      const e = error as UpstreamError;
      expect(e.code).toBe('upstream_rate_limited');
      expect(e.retryable).toBe(true);
      expect(e.upstreamStatus).toBe(429);
      expect(e.extra.retryAfterSeconds).toBe(1);
    });

    it('maps 500 to a retryable upstream error', async () => {
      const { events, error } = await collectUntilError(
        target.provider.stream(request([{ role: 'user', content: '#sim fail=500' }])),
      );
      expect(events).toEqual([]);
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).code).toBe('upstream_error');
      expect((error as UpstreamError).retryable).toBe(true);
      expect((error as UpstreamError).upstreamStatus).toBe(500);
    });

    it('a connection cut mid-stream gives the text so far, then a non-retryable upstream_disconnected', async () => {
      const { events, error } = await collectUntilError(
        target.provider.stream(
          request([{ role: 'user', content: '#sim tokens=10 fail=drop after=3' }]),
        ),
      );
      expect(events).toEqual([
        { type: 'text', text: 'The' },
        { type: 'text', text: ' quick' },
        { type: 'text', text: ' brown' },
      ]);
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).code).toBe('upstream_disconnected');
      expect((error as UpstreamError).retryable).toBe(false);
    });

    it('unsubscribing mid-stream aborts the upstream request within 100 ms', async () => {
      const source = target.provider.stream(
        request([{ role: 'user', content: '#sim tokens=400 tps=40' }]),
      );
      let firstText!: () => void;
      const gotText = new Promise<void>((r) => (firstText = r));
      const sub = source.subscribe({
        next: (e) => {
          if (e.type === 'text') firstText();
        },
        error: () => undefined,
      });
      await gotText;
      expect(sim.stats()).toMatchObject({ open: 1, aborted: 0 });
      sub.unsubscribe();
      await waitFor(() => sim.stats().aborted === 1, 5000);
      expect(sim.stats()).toMatchObject({ open: 0, completed: 0, aborted: 1 });
    });

    it('does nothing until subscribed (cold)', async () => {
      const source = target.provider.stream(request([{ role: 'user', content: 'hi' }]));
      // a hot source would have sent its request by the time a real round trip completes
      await fetch(`${sim.url}/_sim/requests?limit=1`);
      expect(sim.stats().started).toBe(0);
      await firstValueFrom(source);
      expect(sim.stats().started).toBe(1);
    });

    describe('asked for a whole answer (a non-streaming client)', () => {
      const whole = (messages: ChatMessage[], extra: Partial<ProviderChatRequest> = {}) => {
        const req = request(messages, extra);
        return {
          source: target.provider.stream(req, { whole: true }),
          answersWhole: target.provider.answersWhole?.(req) ?? false,
        };
      };

      it('gives the same text, the exact usage and finish; a whole answer is asked for without streaming', async () => {
        const user = 'Hello there\n#sim tokens=5 cached=7 reasoning=3';
        const { source, answersWhole } = whole([{ role: 'user', content: user }]);
        const events = await collect(source);
        expect(textOf(events)).toBe('The quick brown fox jumps');
        expect(events.slice(-2)).toEqual([
          {
            type: 'usage',
            usage: {
              inputTokens: promptTokens([{ role: 'user', text: user }]) + 7,
              cachedInputTokens: 7,
              outputTokens: 5 + 3,
              reasoningTokens: target.reportsReasoning ? 3 : 0,
            },
          },
          { type: 'finish', reason: 'stop' },
        ]);
        const [sent] = await ctx.requests();
        const body = sent.body as Record<string, unknown>;
        expect(answersWhole).toBe(target.answersWhole);
        if (answersWhole) {
          expect(events.filter((e) => e.type === 'text')).toHaveLength(1);
          expect(body.stream).toBe(false);
          expect(body.stream_options).toBeUndefined();
        }
      });

      it('gives a tool call whole, with its id, name and arguments', async () => {
        const { source } = whole(
          [{ role: 'user', content: 'Weather?\n#sim tool=get_weather args={"city":"Paris"}' }],
          { tools: [WEATHER_TOOL] },
        );
        const events = await collect(source);
        const calls = toolCallsOf(events);
        expect(calls).toHaveLength(1);
        expect(calls[0].id).not.toBe('');
        expect(calls[0].name).toBe('get_weather');
        expect(JSON.parse(calls[0].arguments)).toEqual({ city: 'Paris' });
        expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
        expect(events.filter((e) => e.type === 'usage')).toHaveLength(1);
      });

      it('maps 429 with Retry-After and 500 as a streamed call does', async () => {
        const limited = await collectUntilError(
          whole([{ role: 'user', content: '#sim fail=429' }]).source,
        );
        expect(limited.events).toEqual([]);
        expect(limited.error).toBeInstanceOf(UpstreamError);
        expect(limited.error).toMatchObject({
          code: 'upstream_rate_limited',
          retryable: true,
          upstreamStatus: 429,
          extra: { retryAfterSeconds: 1 },
        });
        const failed = await collectUntilError(
          whole([{ role: 'user', content: '#sim fail=500' }]).source,
        );
        expect(failed.error).toMatchObject({
          code: 'upstream_error',
          retryable: true,
          upstreamStatus: 500,
        });
      });

      it('a connection cut before the answer is a retryable failure with no events', async () => {
        const { events, error } = await collectUntilError(
          whole([{ role: 'user', content: '#sim fail=drop' }]).source,
        );
        expect(events).toEqual([]);
        expect(error).toBeInstanceOf(UpstreamError);
        expect((error as UpstreamError).retryable).toBe(true);
      });

      it('unsubscribing while the answer is pending aborts the upstream request', async () => {
        const sub = whole([{ role: 'user', content: '#sim fail=hang' }]).source.subscribe({
          error: () => undefined,
        });
        await waitFor(() => sim.stats().open === 1, 5000);
        sub.unsubscribe();
        await waitFor(() => sim.stats().aborted === 1, 5000);
        expect(sim.stats()).toMatchObject({ open: 0, completed: 0, aborted: 1 });
      });
    });

    it('embeds texts into the vectors the upstream returns, in input order, with an input token count', async () => {
      const texts = ['alpha beta', 'gamma delta epsilon', 'alpha'];
      const embed = target.provider.embed?.bind(target.provider);
      expect(embed).toBeDefined();
      const res = await embed!(target.embeddingModel, texts);
      expect(res.vectors).toHaveLength(3);
      res.vectors.forEach((v, i) => {
        const expected = Array.from(embedText(texts[i], target.embeddingDimensions));
        expect(v).toHaveLength(target.embeddingDimensions);
        v.forEach((x, j) => expect(x).toBeCloseTo(expected[j], 6));
      });
      expect(res.inputTokens).toBeGreaterThan(0);
    });
  });

  return ctx;
}
