import { AppError } from '@switchboard/common';
import type { PipelineEvent, RunSummary } from '@switchboard/chat';
import type { NamedFrame } from '../streaming/wire-encoder';
import { ResponsesEventsEncoder, type ResponseObject } from './responses-events.encoder';

const summary: RunSummary = {
  requestId: 'r',
  model: 'm',
  provider: 'p',
  attempt: 1,
  usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5, reasoningTokens: 1 },
  costMicros: 0,
  status: 'complete',
  usageReported: true,
  durationMs: 1,
};

const base = (): ResponseObject => ({ id: 'resp_1', object: 'response', output: [] });

type Ev = Record<string, unknown> & { type: string; sequence_number: number };

function run(events: PipelineEvent[]) {
  let final: ResponseObject | undefined;
  const enc = new ResponsesEventsEncoder(base(), (r) => void (final = r));
  const frames: NamedFrame[] = [];
  for (const ev of [...events, { type: 'end', summary } as PipelineEvent])
    frames.push(...enc.encode(ev));
  const out = frames.map((f) => {
    const data = JSON.parse(f.data) as Ev;
    expect(f.event).toBe(data.type);
    return data;
  });
  out.forEach((e, i) => expect(e.sequence_number).toBe(i));
  return { events: out, types: out.map((e) => e.type), final: final! };
}

describe('ResponsesEventsEncoder', () => {
  it('text then a tool call: the message closes before the call opens, indexes follow', () => {
    const { types, events, final } = run([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_call', index: 0, id: 'call_1', name: 'lookup', argumentsDelta: '{"q"' },
      { type: 'tool_call', index: 0, argumentsDelta: ':1}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[8]).toMatchObject({ output_index: 1 });
    expect(events[11]).toMatchObject({ name: 'lookup', arguments: '{"q":1}', output_index: 1 });
    expect(final.status).toBe('completed');
    expect(final.output).toEqual([
      expect.objectContaining({
        type: 'message',
        status: 'completed',
        content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Let me check.' }],
      }),
      expect.objectContaining({
        type: 'function_call',
        call_id: 'call_1',
        name: 'lookup',
        arguments: '{"q":1}',
        status: 'completed',
      }),
    ]);
    expect(final.usage).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 2 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 1 },
      total_tokens: 15,
    });
  });

  it('parallel calls interleaved by index stay separate items, closed in output order', () => {
    const { events, final } = run([
      { type: 'tool_call', index: 0, id: 'a', name: 'f', argumentsDelta: '{' },
      { type: 'tool_call', index: 1, id: 'b', name: 'g', argumentsDelta: '[' },
      { type: 'tool_call', index: 0, argumentsDelta: '}' },
      { type: 'tool_call', index: 1, argumentsDelta: ']' },
    ]);
    const done = events.filter((e) => e.type === 'response.function_call_arguments.done');
    expect(done.map((e) => [e.output_index, e.arguments])).toEqual([
      [0, '{}'],
      [1, '[]'],
    ]);
    expect(final.output.map((o) => o.call_id)).toEqual(['a', 'b']);
  });

  it('the output cap makes the response incomplete with its reason', () => {
    const { types, final } = run([
      { type: 'text', text: 'a b' },
      { type: 'finish', reason: 'length' },
    ]);
    expect(types.at(-1)).toBe('response.incomplete');
    expect(final).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
    });
    expect(final.output[0].status).toBe('incomplete');
  });

  it('an error after text fails the response with the client-safe error; open items are incomplete', () => {
    const { types, final } = run([
      { type: 'text', text: 'partial' },
      { type: 'error', error: new AppError('upstream_disconnected') },
    ]);
    expect(types.slice(-2)).toEqual(['response.output_item.done', 'response.failed']);
    expect(final).toMatchObject({
      status: 'failed',
      error: {
        code: 'upstream_disconnected',
        message: 'The model provider closed the stream early.',
      },
    });
    expect(final.output[0]).toMatchObject({ status: 'incomplete' });
  });

  it('status, state and usage events are not sent; empty text deltas are dropped', () => {
    const { types } = run([
      { type: 'status', id: 's', message: 'searching', inProgress: true },
      { type: 'state', state: { sources: [] } },
      { type: 'text', text: '' },
      { type: 'text', text: 'x' },
    ]);
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(1);
  });

  it('settle waits for the final callback', async () => {
    let stored = false;
    const enc = new ResponsesEventsEncoder(base(), async () => {
      await Promise.resolve();
      stored = true;
    });
    enc.encode({ type: 'end', summary });
    await enc.settle();
    expect(stored).toBe(true);
  });
});
