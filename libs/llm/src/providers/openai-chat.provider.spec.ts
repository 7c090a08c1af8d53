import fc from 'fast-check';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { errors } from 'undici';
import type { ChatEvent } from '../chat.types';
import { UpstreamError } from '../upstream-error';
import { readChatJson, readChatSse, UpstreamBody } from './chat-completions.transport';
import { OpenAiChatProvider } from './openai-chat.provider';
import {
  collect,
  collectUntilError,
  describeProviderContract,
  textOf,
  waitFor,
} from './provider-contract.testing';

const ctx = describeProviderContract('OpenAI', (url) => {
  const provider = new OpenAiChatProvider({
    kind: 'openai',
    simulated: true,
    client: new OpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1`, maxRetries: 0 }),
  });
  return {
    provider,
    protocol: 'openai',
    chatModel: 'gpt-4o-mini',
    embeddingModel: 'text-embedding-3-small',
    embeddingDimensions: 1536,
    reportsReasoning: true,
    answersWhole: true,
    close: () => void provider.close(),
  };
});

describe('OpenAI adapter: Chat Completions request', () => {
  it('sends the Chat Completions body with streaming usage on the base URL path', async () => {
    const events = await collect(
      ctx.target().provider.stream({
        upstreamModel: 'gpt-4o-mini',
        messages: [{ role: 'user', content: '#sim tokens=2' }],
        maxTokens: 50,
        temperature: 0.5,
      }),
    );
    expect(textOf(events)).toBe('The quick');
    const [req] = await ctx.requests();
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.body).toMatchObject({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 50,
      temperature: 0.5,
    });
  });
});

/** An upstream that answers each request with the bytes a test scripts. */
class ScriptedUpstream {
  #server!: Server;
  url = '';
  sockets = 0;
  aborted = 0;
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      req.resume();
      res.on('close', () => {
        if (!res.writableFinished) this.aborted++;
      });
      this.handler(req, res);
    });
    this.#server.on('connection', () => this.sockets++);
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  JSON.stringify({
    id: 'c',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });

describe('OpenAI adapter over HTTP: SSE edge cases and failures', () => {
  const upstream = new ScriptedUpstream();
  let provider: OpenAiChatProvider;
  const ask = () =>
    provider.stream({ upstreamModel: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const sse = (body: string, status = 200, headers: Record<string, string> = {}) => {
    upstream.handler = (_req, res) => {
      res.writeHead(status, { 'content-type': 'text/event-stream', ...headers });
      res.end(body);
    };
  };

  beforeAll(async () => {
    await upstream.start();
    provider = new OpenAiChatProvider({
      kind: 'openai-compatible',
      client: new OpenAI({ apiKey: 'k', baseURL: `${upstream.url}/v1`, maxRetries: 0 }),
    });
  });
  afterAll(async () => {
    await provider.close();
    await upstream.close();
  });

  it('sends the key as a bearer token and reuses one keep-alive connection for calls one after another', async () => {
    const auth: Array<string | undefined> = [];
    upstream.handler = (req, res) => {
      auth.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${chunk({ content: 'ok' }, 'stop')}\n\ndata: [DONE]\n\n`);
    };
    const socketsBefore = upstream.sockets;
    for (let i = 0; i < 3; i++) {
      expect(textOf(await collect(ask()))).toBe('ok');
      // the pool marks the socket idle on the turn after the body ended
      await new Promise((r) => setImmediate(r));
    }
    expect(auth).toEqual(['Bearer k', 'Bearer k', 'Bearer k']);
    expect(upstream.sockets - socketsBefore).toBeLessThanOrEqual(1);
  });

  it('joins multi-line data, ignores comments and unknown fields, accepts CRLF and a last event without its blank line', async () => {
    const usage = JSON.stringify({
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    sse(
      ': keep-alive\r\n' +
        `data: {"choices":[{"index":0,\r\ndata: "delta":{"content":"Hé"},"finish_reason":null}]}\r\n\r\n` +
        'id: 7\nretry: 100\nfoo: bar\n' +
        `data: ${chunk({ content: ' là' }, 'stop')}\n\n` +
        `data: ${usage}`,
    );
    const events = await collect(ask());
    expect(events).toEqual([
      { type: 'text', text: 'Hé' },
      { type: 'text', text: ' là' },
      {
        type: 'usage',
        usage: { inputTokens: 3, cachedInputTokens: 0, outputTokens: 2, reasoningTokens: 0 },
      },
      { type: 'finish', reason: 'stop' },
    ]);
  });

  it('an error event mid-stream gives the text so far, then a non-retryable upstream_disconnected', async () => {
    sse(
      `data: ${chunk({ content: 'partial' })}\n\n` +
        'data: {"error":{"message":"The server is overloaded","type":"server_error"}}\n\n' +
        `data: ${chunk({ content: 'never' }, 'stop')}\n\ndata: [DONE]\n\n`,
    );
    const { events, error } = await collectUntilError(ask());
    expect(events).toEqual([{ type: 'text', text: 'partial' }]);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('upstream_disconnected');
    expect((error as UpstreamError).retryable).toBe(false);
  });

  it('an `event: error` before any chunk is an upstream error; context_length_exceeded keeps its code', async () => {
    sse('event: error\ndata: {"message":"bad things","code":"server_error"}\n\n');
    const first = await collectUntilError(ask());
    expect(first.events).toEqual([]);
    expect((first.error as UpstreamError).code).toBe('upstream_error');

    sse(
      'data: {"error":{"message":"too long","code":"context_length_exceeded","type":"invalid_request_error"}}\n\n',
    );
    const second = await collectUntilError(ask());
    expect((second.error as UpstreamError).code).toBe('context_length_exceeded');
    expect((second.error as UpstreamError).retryable).toBe(false);
  });

  it('maps an HTTP 400 with code context_length_exceeded, and a 429 with an HTTP-date Retry-After', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { message: 'maximum context length', code: 'context_length_exceeded' },
        }),
      );
    };
    const tooLong = await collectUntilError(ask());
    expect(tooLong.error).toBeInstanceOf(UpstreamError);
    expect((tooLong.error as UpstreamError).code).toBe('context_length_exceeded');
    expect((tooLong.error as UpstreamError).upstreamStatus).toBe(400);

    const at = new Date(Date.now() + 30_000).toUTCString();
    sse('{"error":{"message":"slow down"}}', 429, { 'retry-after': at });
    const busy = await collectUntilError(ask());
    const e = busy.error as UpstreamError;
    expect(e.code).toBe('upstream_rate_limited');
    expect(e.retryable).toBe(true);
    expect(e.upstreamStatus).toBe(429);
    expect(e.extra.retryAfterSeconds).toBeGreaterThanOrEqual(28);
    expect(e.extra.retryAfterSeconds).toBeLessThanOrEqual(31);
  });

  it('a body that ends without a finish reason is a non-retryable disconnect', async () => {
    sse(`data: ${chunk({ content: 'cut' })}\n\n`);
    const { events, error } = await collectUntilError(ask());
    expect(events).toEqual([{ type: 'text', text: 'cut' }]);
    expect((error as UpstreamError).code).toBe('upstream_disconnected');
  });

  it('a refused connection is a retryable upstream_unavailable', async () => {
    const closed = new ScriptedUpstream();
    await closed.start();
    const url = closed.url;
    await closed.close();
    const p = new OpenAiChatProvider({
      kind: 'openai-compatible',
      client: new OpenAI({ apiKey: 'k', baseURL: `${url}/v1`, maxRetries: 0 }),
    });
    const { error } = await collectUntilError(
      p.stream({ upstreamModel: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    );
    await p.close();
    expect((error as UpstreamError).code).toBe('upstream_unavailable');
    expect((error as UpstreamError).retryable).toBe(true);
  });

  it('the caller aborting before the headers arrive cancels the upstream request and emits nothing', async () => {
    const arrived: ServerResponse[] = [];
    upstream.handler = (_req, res) => arrived.push(res); // never answers
    const abortedBefore = upstream.aborted;
    const controller = new AbortController();
    const seen: ChatEvent[] = [];
    let settled = false;
    provider
      .stream(
        { upstreamModel: 'm', messages: [{ role: 'user', content: 'hi' }] },
        { signal: controller.signal },
      )
      .subscribe({
        next: (e) => seen.push(e),
        error: () => (settled = true),
        complete: () => (settled = true),
      });
    await waitFor(() => arrived.length === 1, 5_000);
    controller.abort();
    await waitFor(() => upstream.aborted === abortedBefore + 1, 5_000);
    expect(seen).toEqual([]);
    expect(settled).toBe(false);
  });

  describe('whole answers', () => {
    const askWhole = () =>
      provider.stream(
        { upstreamModel: 'm', messages: [{ role: 'user', content: 'hi' }] },
        { whole: true },
      );
    const json = (body: string, status = 200) => {
      upstream.handler = (req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body);
      };
    };

    it('asks for JSON and maps content, usage and finish', async () => {
      let accept: string | undefined;
      upstream.handler = (req, res) => {
        accept = req.headers.accept;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            choices: [{ index: 0, message: { content: 'Hé là' }, finish_reason: 'length' }],
            usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
          }),
        );
      };
      const events = await collect(askWhole());
      expect(accept).toBe('application/json');
      expect(events).toEqual([
        { type: 'text', text: 'Hé là' },
        {
          type: 'usage',
          usage: { inputTokens: 4, cachedInputTokens: 0, outputTokens: 2, reasoningTokens: 0 },
        },
        { type: 'finish', reason: 'length' },
      ]);
    });

    it('an error object in a 200 body, a body that is not JSON and an answer without a choice fail', async () => {
      json('{"error":{"message":"model overloaded","code":"server_error"}}');
      const overloaded = await collectUntilError(askWhole());
      expect(overloaded.events).toEqual([]);
      expect(overloaded.error).toBeInstanceOf(UpstreamError);
      expect((overloaded.error as UpstreamError).detail).toContain('model overloaded');
      json('<html>bad gateway</html>');
      const garbled = await collectUntilError(askWhole());
      expect((garbled.error as UpstreamError).detail).toContain('malformed answer JSON');
      json('{"choices":[]}');
      const empty = await collectUntilError(askWhole());
      expect(empty.error).toMatchObject({ code: 'upstream_disconnected' });
    });
  });
});

/** A body the test feeds, with a source that records what its reader did to it. */
function testBody() {
  const source = {
    paused: false,
    aborted: undefined as Error | undefined,
    pause() {
      source.paused = true;
    },
    resume() {
      source.paused = false;
    },
    abort(e: Error) {
      source.aborted = e;
    },
  };
  return { body: new UpstreamBody(source), source };
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/**
 * Pushes `parts` one per event-loop turn, holding while the reader paused the
 * source (as undici's parser does) and stopping once the body is destroyed;
 * then ends the body, with `error` if given.
 */
async function feed(
  { body, source }: ReturnType<typeof testBody>,
  parts: Buffer[],
  error?: Error,
): Promise<void> {
  for (const part of parts) {
    while (source.paused && !body.destroyed) await nextTurn();
    if (body.destroyed) return;
    body.push(part);
    await nextTurn();
  }
  body.end(error);
}

describe('UpstreamBody', () => {
  const reader = () => {
    const seen: string[] = [];
    return {
      seen,
      data: (c: Buffer) => seen.push(c.toString()),
      end: (e?: Error) => seen.push(e ? `end:${e.message}` : 'end'),
    };
  };

  it('hands what arrived before the reader attached, end included, in order', () => {
    const { body } = testBody();
    body.push(Buffer.from('a'));
    body.push(Buffer.from('b'));
    body.end();
    const r = reader();
    body.read(r);
    expect(r.seen).toEqual(['a', 'b', 'end']);
    expect(() => body.read(reader())).toThrow('already has a reader');
  });

  it('holds chunks and the end while paused, and pauses the source', () => {
    const { body, source } = testBody();
    const r = reader();
    body.read(r);
    body.push(Buffer.from('a'));
    body.pause();
    expect(source.paused).toBe(true);
    body.push(Buffer.from('b'));
    body.end();
    expect(r.seen).toEqual(['a']);
    body.resume();
    expect(r.seen).toEqual(['a', 'b', 'end']);
    // the source ended: nothing is resumed on it
    expect(source.paused).toBe(true);
  });

  it('destroy aborts the request once and ends the read with its reason, attached or not', () => {
    const early = testBody();
    early.body.push(Buffer.from('dropped'));
    early.body.destroy(new Error('gone'));
    early.body.destroy(new Error('again'));
    expect(early.source.aborted?.message).toBe('gone');
    const r = reader();
    early.body.read(r);
    expect(r.seen).toEqual(['end:gone']);
    // what the source says after the abort reaches nobody
    early.body.push(Buffer.from('late'));
    early.body.end(new Error('aborted by the reader'));
    expect(r.seen).toEqual(['end:gone']);

    // a body that already ended is not aborted
    const ended = testBody();
    ended.body.end();
    ended.body.destroy();
    expect(ended.source.aborted).toBeUndefined();
    expect(ended.body.destroyed).toBe(true);
  });
});

describe('readChatSse', () => {
  const events = [
    { choices: [{ delta: { content: 'a\nb' } }] },
    { choices: [{ delta: { content: 'ünïcødé 🚀' } }] },
    { choices: [], usage: { prompt_tokens: 1 } },
  ];
  const wire = Buffer.from(
    events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(': ping\n\n') + 'data: [DONE]\n\n',
    'utf8',
  );

  it('yields the same payloads however the bytes are split across reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: wire.length - 1 }), { maxLength: 40 }),
        fc.boolean(),
        async (cuts, beforeReader) => {
          const points = [0, ...cuts.sort((a, b) => a - b), wire.length];
          const parts = points.slice(1).map((end, i) => wire.subarray(points[i], end));
          const { body } = testBody();
          const push = () => {
            for (const part of parts) body.push(part);
            body.end();
          };
          if (beforeReader) push();
          const got: unknown[] = [];
          const reading = readChatSse(
            body,
            (p) => got.push(p),
            () => undefined,
          );
          if (!beforeReader) push();
          expect(await reading).toBe(true);
          expect(got).toEqual(events);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('waits for the back-pressure promise before reading on, with the source paused', async () => {
    let release!: () => void;
    let waits = 0;
    const got: unknown[] = [];
    const fed = testBody();
    const reading = readChatSse(
      fed.body,
      (p) => got.push(p),
      () => {
        waits++;
        return waits === 1 ? new Promise<void>((r) => (release = r)) : undefined;
      },
    );
    const feeding = feed(fed, [wire.subarray(0, 10), wire.subarray(10)]);
    await waitFor(() => waits === 1, 5_000);
    expect(fed.source.paused).toBe(true);
    expect(got).toEqual([]);
    release();
    await reading;
    await feeding;
    expect(got).toEqual(events);
  });

  it('fails the read and aborts the request when a consumer throws, the body fails or back-pressure fails', async () => {
    const thrower = testBody();
    const throwing = readChatSse(
      thrower.body,
      () => {
        throw new Error('consumer broke');
      },
      () => undefined,
    );
    void feed(thrower, [wire]);
    await expect(throwing).rejects.toThrow('consumer broke');
    expect(thrower.body.destroyed).toBe(true);
    expect(thrower.source.aborted?.message).toBe('consumer broke');

    // undici reports a connection closed before the end as a SocketError
    const cut = testBody();
    const cutting = readChatSse(
      cut.body,
      () => undefined,
      () => undefined,
    );
    void feed(cut, [wire.subarray(0, 30)], new errors.SocketError('other side closed'));
    await expect(cutting).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });

    // the last event, without its blank line, reaches the consumer once the body ended
    const unterminated = testBody();
    const ending = readChatSse(
      unterminated.body,
      () => {
        throw new Error('consumer broke at the end');
      },
      () => undefined,
    );
    void feed(unterminated, [Buffer.from('data: {"choices":[]}')]);
    await expect(ending).rejects.toThrow('consumer broke at the end');

    const refused = testBody();
    const refusing = readChatSse(
      refused.body,
      () => undefined,
      () => Promise.reject(new Error('client left')),
    );
    void feed(refused, [wire.subarray(0, 10), wire.subarray(10)]);
    await expect(refusing).rejects.toThrow('client left');
    expect(refused.body.destroyed).toBe(true);
  });

  it('a body destroyed from outside (the call aborted) ends the read with the reason', async () => {
    const fed = testBody();
    const got: unknown[] = [];
    const reading = readChatSse(
      fed.body,
      (p) => got.push(p),
      () => undefined,
    );
    fed.body.push(wire.subarray(0, wire.indexOf('\n\n') + 2));
    fed.body.destroy(new Error('client went away'));
    await expect(reading).rejects.toThrow('client went away');
    expect(got).toEqual([events[0]]);
    expect(fed.source.aborted?.message).toBe('client went away');
  });
});

describe('readChatJson', () => {
  it('refuses an answer over 16 MiB without reading it all', async () => {
    const { body, source } = testBody();
    const reading = readChatJson(body);
    const mib = Buffer.alloc(1024 * 1024, 0x20);
    let served = 0;
    for (; served < 64 && !body.destroyed; served++) body.push(mib);
    await expect(reading).rejects.toThrow('answer larger than');
    expect(served).toBe(17);
    expect(source.aborted?.message).toContain('answer larger than');
  });

  it('parses an answer split across reads, multi-byte characters included', async () => {
    const text = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'ünï 🚀' } }] }));
    const fed = testBody();
    const reading = readChatJson(fed.body);
    void feed(fed, [text.subarray(0, 27), text.subarray(27, 29), text.subarray(29)]);
    await expect(reading).resolves.toEqual({
      choices: [{ message: { content: 'ünï 🚀' } }],
    });
  });
});
