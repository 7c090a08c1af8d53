import fc from 'fast-check';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import OpenAI from 'openai';
import type { ChatEvent } from '../chat.types';
import { UpstreamError } from '../upstream-error';
import { readChatJson, readChatSse } from './chat-completions.transport';
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
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), wire.length];
          const parts = points.slice(1).map((end, i) => wire.subarray(points[i], end));
          const got: unknown[] = [];
          const done = await readChatSse(
            Readable.from(parts),
            (p) => got.push(p),
            () => undefined,
          );
          expect(done).toBe(true);
          expect(got).toEqual(events);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('waits for the back-pressure promise before reading on', async () => {
    let release!: () => void;
    let waits = 0;
    const got: unknown[] = [];
    const reading = readChatSse(
      Readable.from([wire.subarray(0, 10), wire.subarray(10)]),
      (p) => got.push(p),
      () => {
        waits++;
        return waits === 1 ? new Promise<void>((r) => (release = r)) : undefined;
      },
    );
    await waitFor(() => waits === 1, 5_000);
    expect(got).toEqual([]);
    release();
    await reading;
    expect(got).toEqual(events);
  });

  it('fails the read and destroys the body when a consumer throws, the body errors or back-pressure fails', async () => {
    const thrower = Readable.from([wire]);
    await expect(
      readChatSse(
        thrower,
        () => {
          throw new Error('consumer broke');
        },
        () => undefined,
      ),
    ).rejects.toThrow('consumer broke');
    expect(thrower.destroyed).toBe(true);

    const cut = new Readable({ read() {} });
    const reading = readChatSse(
      cut,
      () => undefined,
      () => undefined,
    );
    cut.push(wire.subarray(0, 30));
    cut.destroy(new Error('socket hang up'));
    await expect(reading).rejects.toThrow('socket hang up');

    // the last event, without its blank line, reaches the consumer once the body ended
    const unterminated = Buffer.from('data: {"choices":[]}');
    await expect(
      readChatSse(
        Readable.from([unterminated]),
        () => {
          throw new Error('consumer broke at the end');
        },
        () => undefined,
      ),
    ).rejects.toThrow('consumer broke at the end');

    const refused = Readable.from([wire.subarray(0, 10), wire.subarray(10)]);
    await expect(
      readChatSse(
        refused,
        () => undefined,
        () => Promise.reject(new Error('client left')),
      ),
    ).rejects.toThrow('client left');
    expect(refused.destroyed).toBe(true);
  });

  it('a body that closes before its end is a failure, not an answer', async () => {
    const early = new Readable({ read() {} });
    const reading = readChatSse(
      early,
      () => undefined,
      () => undefined,
    );
    early.push(wire.subarray(0, 30));
    early.destroy();
    await expect(reading).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});

describe('readChatJson', () => {
  it('refuses an answer over 16 MiB without reading it all', async () => {
    let served = 0;
    const mib = Buffer.alloc(1024 * 1024, 0x20);
    const body = Readable.from(
      (function* () {
        for (; served < 64; served++) yield mib;
      })(),
    );
    await expect(readChatJson(body)).rejects.toThrow('answer larger than');
    expect(body.destroyed).toBe(true);
    expect(served).toBeLessThan(64);
  });

  it('parses an answer split across reads, multi-byte characters included', async () => {
    const text = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'ünï 🚀' } }] }));
    const parts = [text.subarray(0, 27), text.subarray(27, 29), text.subarray(29)];
    await expect(readChatJson(Readable.from(parts))).resolves.toEqual({
      choices: [{ message: { content: 'ünï 🚀' } }],
    });
  });
});
