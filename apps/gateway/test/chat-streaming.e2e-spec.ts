import OpenAI from 'openai';
import { request as httpRequest } from 'node:http';
import {
  auth,
  chatBody,
  postJson,
  readSse,
  startHarness,
  waitFor,
  ADMIN_KEY,
  type Harness,
  type SseFrame,
} from './gateway.harness';

async function collect(res: Response): Promise<SseFrame[]> {
  const frames: SseFrame[] = [];
  for await (const f of readSse(res)) frames.push(f);
  return frames;
}

const parsed = (frames: SseFrame[]) =>
  frames.filter((f) => f.data).map((f) => JSON.parse(f.data!) as Record<string, unknown>);

async function metric(h: Harness, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels}`) && !l.startsWith('#'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('streaming endpoints (gateway -> openai SDK -> simulator over HTTP)', () => {
  let h: Harness;
  let client: OpenAI;
  beforeAll(async () => {
    h = await startHarness({ HEARTBEAT_SECONDS: '1' });
    client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${h.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('streams a completion to the official openai client, with the usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'sim-gpt',
      messages: [{ role: 'user', content: 'Say hello\n#sim tokens=7 cached=2 reasoning=1' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.split(' ').filter(Boolean)).toHaveLength(7);
    expect(finish).toBe('stop');
    // output tokens include reasoning tokens (OpenAI's convention)
    expect(usage?.completion_tokens).toBe(8);
    expect(usage?.prompt_tokens_details?.cached_tokens).toBe(2);
    expect(usage?.completion_tokens_details?.reasoning_tokens).toBe(1);
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + 8);
  });

  it('answers a non-streaming completion to the official openai client', async () => {
    const c = await client.chat.completions.create({
      model: 'sim-gpt',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi\n#sim tokens=4' },
      ],
    });
    expect(c.object).toBe('chat.completion');
    expect(c.choices[0].message.role).toBe('assistant');
    expect(c.choices[0].message.content?.split(' ').filter(Boolean)).toHaveLength(4);
    expect(c.usage?.completion_tokens).toBe(4);
  });

  it('relays streamed tool calls in OpenAI shape', async () => {
    const stream = await client.chat.completions.create({
      model: 'sim-gpt',
      stream: true,
      messages: [
        { role: 'user', content: 'weather?\n#sim tool=get_weather args={"city":"Paris"}' },
      ],
      tools: [
        { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
      ],
    });
    let name = '';
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      name += tc?.function?.name ?? '';
      args += tc?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(finish).toBe('tool_calls');
  });

  it('lists the served models, marked simulated, without prices for non-admins', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['sim-gpt', 'sim-embed']));
    expect((models.data[0] as unknown as { simulated: boolean }).simulated).toBe(true);
  });

  it('streams /chat frames: answers, then exactly one end frame with usage', async () => {
    const res = await postJson(`${h.url}/chat`, chatBody('hello\n#sim tokens=5'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const frames = parsed(await collect(res));
    const answers = frames.filter((f) => f.s === 'answer');
    expect(answers).toHaveLength(5);
    expect(answers.every((f) => typeof f.d === 'string')).toBe(true);
    const end = frames[frames.length - 1];
    expect(end).toMatchObject({ s: 'result', type: 'end', status: 'complete', model: 'sim-gpt' });
    expect((end.usage as { outputTokens: number }).outputTokens).toBe(5);
    expect(frames.filter((f) => f.s === 'result')).toHaveLength(1);
  });

  it('uses the caller-supplied requestId', async () => {
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('hi', { options: { model: { id: 'sim-gpt' }, requestId: 'req-abc.1' } }),
    );
    expect(res.headers.get('x-request-id')).toBe('req-abc.1');
    await collect(res);
  });

  it('sends keep-alive comments while the model is silent', async () => {
    const res = await postJson(`${h.url}/chat`, chatBody('slow\n#sim ttft=1300 tokens=2'));
    const frames = await collect(res);
    const firstData = frames.findIndex((f) => f.data);
    expect(frames.slice(0, firstData).some((f) => f.comment === 'keep-alive')).toBe(true);
    expect(parsed(frames).pop()).toMatchObject({ s: 'result', type: 'end' });
  });

  it('aborts the upstream request on a client disconnect and records the partial usage', async () => {
    const before = await metric(
      h,
      'switchboard_chat_requests_total',
      '{outcome="cancelled",code=""}',
    );
    const ac = new AbortController();
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('long\n#sim tokens=1000 tps=50'),
      auth,
      ac.signal,
    );
    const reader = res.body!.getReader();
    await reader.read();
    await waitFor(() => h.sim.stats().open === 1);
    ac.abort();
    // the upstream reply had ~20 s to go: aborted, not completed (latency is in bench/)
    await waitFor(() => h.sim.stats().aborted === 1, 5000, 2);
    expect(h.sim.stats()).toMatchObject({ aborted: 1, completed: 0 });
    await waitFor(async () => (await metric(h, 'switchboard_active_streams')) === 0);
    await waitFor(
      async () =>
        (await metric(h, 'switchboard_chat_requests_total', '{outcome="cancelled",code=""}')) ===
        before + 1,
    );
    expect(
      await metric(h, 'switchboard_tokens_total', '{direction="output",model="sim-gpt"}'),
    ).toBeGreaterThan(0);
  });

  it('applies back-pressure: a reader that stops reading stalls the upstream instead of growing a buffer', async () => {
    const body = JSON.stringify(chatBody('flood\n#sim tokens=400000'));
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        `${h.url}/chat`,
        {
          method: 'POST',
          headers: {
            ...auth,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.pause(); // read nothing
          setTimeout(() => {
            try {
              const s = h.sim.stats();
              // the simulator could not finish: the gateway stopped reading from it
              expect(s.open).toBe(1);
              expect(s.completed).toBe(0);
              res.resume();
              res.on('end', () => resolve());
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          }, 1500);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    await waitFor(() => h.sim.stats().completed === 1, 20000, 20);
  }, 40000);

  it('kill switch: a killSwitch body cancels the running request with an error frame and an end frame', async () => {
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('long\n#sim tokens=1000 tps=50', {
        options: { model: { id: 'sim-gpt' }, requestId: 'kill-me-1' },
      }),
    );
    const framesP = collect(res);
    await waitFor(() => h.sim.stats().open === 1);
    const k = await postJson(`${h.url}/chat`, {
      killSwitch: { requestId: 'kill-me-1', value: true },
    });
    expect(await k.json()).toEqual({ requestId: 'kill-me-1', killed: true });
    const frames = parsed(await framesP);
    expect(frames[frames.length - 2]).toMatchObject({ s: 'error', error: { code: 'cancelled' } });
    expect(frames[frames.length - 1]).toMatchObject({
      s: 'result',
      type: 'end',
      status: 'cancelled',
    });
    await waitFor(() => h.sim.stats().aborted === 1);
  });

  it('POST /chat/cancel cancels the running request like the killSwitch body; bad input is a 400', async () => {
    const aborted = h.sim.stats().aborted;
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('long\n#sim tokens=1000 tps=50', {
        options: { model: { id: 'sim-gpt' }, requestId: 'cancel-me-1' },
      }),
    );
    const framesP = collect(res);
    await waitFor(() => h.sim.stats().open === 1);
    const c = await postJson(`${h.url}/chat/cancel`, { requestId: 'cancel-me-1' });
    expect(c.status).toBe(200);
    expect(await c.json()).toEqual({ requestId: 'cancel-me-1', killed: true });
    const frames = parsed(await framesP);
    expect(frames[frames.length - 2]).toMatchObject({ s: 'error', error: { code: 'cancelled' } });
    expect(frames[frames.length - 1]).toMatchObject({ s: 'result', status: 'cancelled' });
    await waitFor(() => h.sim.stats().aborted === aborted + 1);
    // the request has ended: cancelling it again finds nothing
    const again = await postJson(`${h.url}/chat/cancel`, { requestId: 'cancel-me-1' });
    expect(await again.json()).toEqual({ requestId: 'cancel-me-1', killed: false });
    for (const body of [
      {},
      { requestId: '' },
      { requestId: 'x'.repeat(129) },
      { requestId: 'a', extra: 1 },
    ]) {
      const bad = await postJson(`${h.url}/chat/cancel`, body);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
        'invalid_request',
      );
    }
    const get = await fetch(`${h.url}/chat/cancel`, { headers: auth });
    expect(get.status).toBe(405);
  });
});
