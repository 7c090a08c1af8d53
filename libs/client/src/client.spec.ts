import { SwitchboardClient } from './client';
import { SwitchboardApiError } from './errors';
import type { ChatStreamEvent } from './types';

/** A fetch double that answers /chat with the given byte chunks and records every call. */
function fakeFetch(chunks: string[], headers: Record<string, string> = {}) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  let cancelled = false;
  const fn = (input: string | URL, init: RequestInit = {}): Promise<Response> => {
    const url = String(input);
    calls.push({ url, init });
    if (url.endsWith('/chat/cancel'))
      return Promise.resolve(Response.json({ requestId: 'x', killed: true }));
    const enc = new TextEncoder();
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (init.signal?.aborted) {
          cancelled = true;
          c.error(new DOMException('aborted', 'AbortError'));
          return;
        }
        if (i < chunks.length) c.enqueue(enc.encode(chunks[i++]));
        else c.close();
      },
    });
    init.signal?.addEventListener('abort', () => (cancelled = true));
    return Promise.resolve(
      new Response(stream, {
        status: 200,
        headers: { 'content-type': 'text/event-stream', ...headers },
      }),
    );
  };
  return { fn: fn as typeof fetch, calls, wasCancelled: () => cancelled };
}

const collect = async (it: AsyncIterable<ChatStreamEvent>) => {
  const out: ChatStreamEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
};

const body = {
  messages: [{ role: 'user' as const, content: 'hi' }],
  options: { model: { id: 'm' } },
};

describe('SwitchboardClient.chat', () => {
  it('parses frames split mid-JSON, heartbeats and the end frame; exposes the headers', async () => {
    const f = fakeFetch(
      [
        'data: {"s":"ans',
        'wer","d":"Hel"}\n',
        '\n: keep-alive\n\ndata: {"s":"answer","d":"lo"}\n\ndata: {"s":"result","type":"end",',
        '"usage":{"inputTokens":1,"cachedInputTokens":0,"outputTokens":2,"reasoningTokens":0,"costMicros":3,"estimated":false},"model":"m","provider":"openai","attempt":2,"status":"complete"}\n\n',
      ],
      { 'x-switchboard-model': 'fallback-m', 'x-switchboard-attempt': '2', 'x-request-id': 'r1' },
    );
    const client = new SwitchboardClient({ baseUrl: 'http://gw/', token: 'sb_k', fetch: f.fn });
    const stream = await client.chat(body);
    expect(stream.info).toMatchObject({ model: 'fallback-m', attempt: 2, requestId: 'r1' });
    const events = await collect(stream);
    expect(events.map((e) => e.type)).toEqual(['answer', 'heartbeat', 'answer', 'end']);
    expect(
      events
        .filter((e) => e.type === 'answer')
        .map((e) => e.text)
        .join(''),
    ).toBe('Hello');
    expect(f.calls[0].url).toBe('http://gw/chat');
    expect((f.calls[0].init.headers as Record<string, string>).authorization).toBe('Bearer sb_k');
    // a correlation id is always sent, so the stream can be cancelled
    const sent = JSON.parse(f.calls[0].init.body as string);
    expect(sent.options.requestId).toMatch(/^web-[0-9a-f]{32}$/);
  });

  it('surfaces an error frame as an event, then the end', async () => {
    const f = fakeFetch([
      'data: {"s":"answer","d":"par"}\n\ndata: {"s":"error","error":{"code":"upstream_disconnected","message":"gone"}}\n\n',
      'data: {"s":"result","type":"end","usage":{},"model":"m","provider":"p","attempt":1,"status":"error"}\n\n',
    ]);
    const events = await collect(await new SwitchboardClient({ fetch: f.fn }).chat(body));
    expect(events).toContainEqual({
      type: 'error',
      code: 'upstream_disconnected',
      message: 'gone',
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', status: 'error' });
  });

  it('throws when the connection ends without an end frame', async () => {
    const f = fakeFetch(['data: {"s":"answer","d":"x"}\n\n']);
    const stream = await new SwitchboardClient({ fetch: f.fn }).chat(body);
    await expect(collect(stream)).rejects.toThrow('without an end frame');
  });

  it('cancel() sends the kill switch for the request id, then aborts the connection', async () => {
    const f = fakeFetch([
      'data: {"s":"answer","d":"x"}\n\n',
      ': keep-alive\n\n',
      ': keep-alive\n\n',
    ]);
    const client = new SwitchboardClient({ fetch: f.fn });
    const stream = await client.chat({
      ...body,
      options: { ...body.options, requestId: 'mine-1' },
    });
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'answer', text: 'x' });
    await stream.cancel();
    expect(f.calls[1].url).toMatch(/\/chat\/cancel$/);
    expect(JSON.parse(f.calls[1].init.body as string)).toEqual({ requestId: 'mine-1' });
    expect(f.wasCancelled()).toBe(true);
    // the iteration ends quietly after a cancel
    const rest: unknown[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest.every((e) => (e as ChatStreamEvent).type === 'heartbeat')).toBe(true);
  });

  it('rejects with the gateway error code before the first byte (402)', async () => {
    const fn = (() =>
      Promise.resolve(
        Response.json(
          {
            error: {
              code: 'budget_exceeded',
              message: 'daily budget of $1.00 spent',
              requestId: 'r',
            },
          },
          { status: 402 },
        ),
      )) as typeof fetch;
    const err = await new SwitchboardClient({ fetch: fn }).chat(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardApiError);
    expect(err).toMatchObject({ status: 402, code: 'budget_exceeded', requestId: 'r' });
  });
});
