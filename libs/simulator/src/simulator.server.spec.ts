import { waitFor as waitForCondition } from '@switchboard/common/testing';
import OpenAI from 'openai';
import { startSimulator, type RunningSimulator } from './simulator.server';
import { WORDS } from './reply.planner';

function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  return waitForCondition(predicate, { timeoutMs, intervalMs: 5 });
}

function chatBody(content: string, extra: Record<string, unknown> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra }),
  };
}

describe('simulator directives, stats and request log', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    client = new OpenAI({ apiKey: 'k', baseURL: `${sim.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('answers fail=429 with HTTP 429, Retry-After: 1 and an OpenAI error body', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, chatBody('#sim fail=429'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: '#sim fail=429' }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('answers fail=500 with a 5xx error body', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, chatBody('#sim fail=500'));
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { type: 'server_error' } });
  });

  it('hangs without headers until the client aborts, then counts the abort', async () => {
    const controller = new AbortController();
    const pending = fetch(`${sim.url}/v1/chat/completions`, {
      ...chatBody('#sim fail=hang', { stream: true }),
      signal: controller.signal,
    });
    await waitFor(() => sim.stats().open === 1, 5000);
    expect(sim.stats()).toMatchObject({ open: 1, started: 1, completed: 0, aborted: 0 });
    controller.abort();
    await expect(pending).rejects.toThrow();
    // counted as aborted, never completed: the reply hung until the client left
    await waitFor(() => sim.stats().aborted === 1, 5000);
    expect(sim.stats()).toMatchObject({ open: 0, completed: 0, aborted: 1 });
  });

  it('counts a client leaving mid-stream as aborted and stops streaming', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      {
        model: 'gpt-4o',
        messages: [{ role: 'user', content: '#sim tokens=1000 tps=50' }],
        stream: true,
      },
      { signal: controller.signal },
    );
    let seen = 0;
    // The openai client ends iteration quietly (or throws) on abort; either way the client is gone.
    await (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) seen++;
        if (seen === 2) controller.abort();
      }
    })().catch(() => undefined);
    expect(seen).toBe(2);
    await waitFor(() => sim.stats().aborted === 1, 5000);
    expect(sim.stats()).toMatchObject({ open: 0, completed: 0, aborted: 1 });
  });

  it('drops the connection after N tokens: the client sees N tokens then a connection error', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: '#sim fail=drop after=3 tokens=10' }],
      stream: true,
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) {
          const t = chunk.choices[0]?.delta.content;
          if (t) seen.push(t);
        }
      })(),
    ).rejects.toThrow();
    expect(seen.join('')).toBe(WORDS.slice(0, 3).join(' '));
    await waitFor(() => sim.stats().dropped === 1, 5000);
    expect(sim.stats()).toMatchObject({ open: 0, aborted: 0, dropped: 1 });
  });

  it('fail=500 after=5 sends five tokens and then cuts the stream', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: '#sim fail=500 after=5' }],
      stream: true,
    });
    let count = 0;
    await expect(
      (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) count++;
      })(),
    ).rejects.toThrow();
    expect(count).toBe(5);
  });

  it('drop without after cuts the connection before any response', async () => {
    await expect(
      fetch(`${sim.url}/v1/chat/completions`, chatBody('#sim fail=drop')),
    ).rejects.toThrow();
  });

  it('hang after=N sends N tokens, then stalls without ending', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      {
        model: 'gpt-4o',
        messages: [{ role: 'user', content: '#sim fail=hang after=2' }],
        stream: true,
      },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of stream) {
        const t = chunk.choices[0]?.delta.content;
        if (t) seen.push(t);
      }
    })().catch(() => undefined);
    await waitFor(() => seen.length === 2, 5000);
    expect(sim.stats().open).toBe(1);
    controller.abort();
    await reading;
    // it never ended by itself: aborted by the client, not completed, nothing after token 2
    await waitFor(() => sim.stats().aborted === 1, 5000);
    expect(sim.stats()).toMatchObject({ open: 0, completed: 0, aborted: 1 });
    expect(seen).toHaveLength(2);
  });

  it('applies fail and ttft directives to embeddings too', async () => {
    await expect(
      client.embeddings.create({
        model: 'text-embedding-3-small',
        input: ['doc', '#sim fail=429'],
      }),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    const start = Date.now();
    await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'slow\n#sim ttft=100',
    });
    expect(Date.now() - start).toBeGreaterThanOrEqual(90);
  });

  it('waits ttft before the first token and paces the rest at tps', async () => {
    const start = Date.now();
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: '#sim ttft=150 tokens=5 tps=50' }],
      stream: true,
    });
    const arrivals: number[] = [];
    for await (const chunk of stream)
      if (chunk.choices[0]?.delta.content) arrivals.push(Date.now() - start);
    expect(arrivals).toHaveLength(5);
    expect(arrivals[0]).toBeGreaterThanOrEqual(140);
    // 4 gaps of 20 ms after the first token.
    expect(arrivals[4] - arrivals[0]).toBeGreaterThanOrEqual(70);
    expect(arrivals[4]).toBeLessThan(1000);
  });

  it('holds a non-streaming answer for ttft', async () => {
    const start = Date.now();
    await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: '#sim ttft=120' }],
    });
    expect(Date.now() - start).toBeGreaterThanOrEqual(110);
  });

  it('serves stats and reset over HTTP and counts completed calls', async () => {
    await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
    });
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
    await waitFor(() => sim.stats().completed === 2, 5000);
    const stats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as Record<string, number>;
    expect(stats).toMatchObject({ open: 0, started: 2, completed: 2, aborted: 0 });
    const reset = await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(sim.stats()).toMatchObject({ started: 0, completed: 0, aborted: 0 });
  });

  it('records the last request bodies with protocol and path, bounded to 100', async () => {
    for (let i = 0; i < 105; i++) {
      await fetch(`${sim.url}/v1/chat/completions`, chatBody(`msg ${i}`));
    }
    const all = (await (await fetch(`${sim.url}/_sim/requests?limit=500`)).json()) as {
      requests: { protocol: string; path: string; body: { messages: { content: string }[] } }[];
    };
    expect(all.requests).toHaveLength(100);
    expect(all.requests[0].body.messages[0].content).toBe('msg 5');
    const last = (await (await fetch(`${sim.url}/_sim/requests?limit=2`)).json()) as typeof all;
    expect(last.requests.map((r) => r.body.messages[0].content)).toEqual(['msg 103', 'msg 104']);
    expect(last.requests[1]).toMatchObject({ protocol: 'openai', path: '/v1/chat/completions' });
  });

  it('answers malformed JSON with a 400 in the protocol error shape', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('the Responses dialect calls a required tool with schema-valid arguments and answers json_schema', async () => {
    const parameters = {
      type: 'object',
      properties: { n: { type: 'integer', minimum: 5 }, tag: { enum: ['a', 'b'] } },
      required: ['n', 'tag'],
      additionalProperties: false,
    };
    const called = await client.responses.create({
      model: 'gpt-4o',
      input: 'hi',
      tools: [{ type: 'function', name: 'count', parameters, strict: true }],
      tool_choice: 'required',
    });
    const call = called.output[0];
    expect(call.type === 'function_call' && JSON.parse(call.arguments)).toEqual({ n: 5, tag: 'a' });
    const answered = await client.responses.create({
      model: 'gpt-4o',
      input: 'hi',
      text: { format: { type: 'json_schema', name: 'count', schema: parameters } },
    });
    expect(JSON.parse(answered.output_text)).toEqual({ n: 5, tag: 'a' });
  });
});
