import { FrameError, parseChatFrame } from './chat-frames';

const data = (o: unknown) => ({ kind: 'data' as const, data: JSON.stringify(o) });

describe('parseChatFrame', () => {
  it('maps every frame of the wire contract to a typed event', () => {
    expect(parseChatFrame(data({ s: 'answer', d: 'hi' }))).toEqual({ type: 'answer', text: 'hi' });
    expect(
      parseChatFrame(
        data({ s: 'meta', st: { id: 'rag', message: 'searching', inProgress: true } }),
      ),
    ).toEqual({
      type: 'status',
      status: { id: 'rag', message: 'searching', inProgress: true },
    });
    expect(
      parseChatFrame(
        data({ s: 'tool_call', d: { index: 0, id: 'c1', name: 'f', arguments: '{' } }),
      ),
    ).toEqual({ type: 'tool_call', index: 0, id: 'c1', name: 'f', arguments: '{' });
    expect(
      parseChatFrame(data({ s: 'error', error: { code: 'upstream_timeout', message: 'slow' } })),
    ).toEqual({ type: 'error', code: 'upstream_timeout', message: 'slow' });
    expect(parseChatFrame({ kind: 'comment', text: 'keep-alive' })).toEqual({ type: 'heartbeat' });
  });

  it('extracts sources and generated files from state frames', () => {
    const src = {
      n: 1,
      fileId: 'f1',
      name: 'a.csv',
      location: 'rows 1-3',
      score: 0.5,
      snippet: 's',
    };
    const ev = parseChatFrame(
      data({ s: 'meta', state: { sources: { documents: { sources: [src] } } } }),
    );
    expect(ev).toMatchObject({ type: 'state', sources: [src] });
    const file = { fileId: 'f2', name: 'chart.png', mime: 'image/png', size: 10 };
    expect(parseChatFrame(data({ s: 'meta', state: { generatedFiles: [file] } }))).toMatchObject({
      type: 'state',
      generatedFiles: [file],
    });
    expect(parseChatFrame(data({ s: 'meta', state: { currentAssistant: 'x' } }))).toEqual({
      type: 'state',
      state: { currentAssistant: 'x' },
    });
  });

  it('reads the end frame with usage, model, attempt and status', () => {
    const ev = parseChatFrame(
      data({
        s: 'result',
        type: 'end',
        usage: {
          inputTokens: 3,
          cachedInputTokens: 0,
          outputTokens: 5,
          reasoningTokens: 0,
          costMicros: 12,
          estimated: true,
        },
        model: 'm',
        provider: 'openai',
        attempt: 2,
        status: 'cancelled',
      }),
    );
    expect(ev).toEqual({
      type: 'end',
      usage: {
        inputTokens: 3,
        cachedInputTokens: 0,
        outputTokens: 5,
        reasoningTokens: 0,
        costMicros: 12,
        estimated: true,
      },
      model: 'm',
      provider: 'openai',
      attempt: 2,
      status: 'cancelled',
    });
  });

  it('skips frame kinds it does not know (forward compatible)', () => {
    expect(parseChatFrame(data({ s: 'future', x: 1 }))).toBeUndefined();
    expect(parseChatFrame(data({ s: 'result', type: 'partial' }))).toBeUndefined();
  });

  it('refuses frames that are not JSON objects', () => {
    expect(() => parseChatFrame({ kind: 'data', data: '{"s":"answer"' })).toThrow(FrameError);
    expect(() => parseChatFrame({ kind: 'data', data: '[1]' })).toThrow(FrameError);
  });
});
