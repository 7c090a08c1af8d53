import OpenAI from 'openai';
import { DATABASE, type Database } from '@switchboard/storage';
import { ADMIN_KEY, auth, postJson, startHarness, waitFor, type Harness } from './gateway.harness';

/**
 * POST /v1/responses through the chat pipeline, and stored responses, with the
 * official openai client and raw HTTP against a simulated upstream.
 */

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface RawEvent {
  event?: string;
  data: Record<string, unknown>;
}

/** Reads an SSE body keeping the `event:` line of each frame. */
async function rawEvents(res: Response): Promise<RawEvent[]> {
  const text = await res.text();
  const out: RawEvent[] = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim() || block.startsWith(':')) continue;
    const lines = block.split('\n');
    const ev = lines.find((l) => l.startsWith('event: '))?.slice(7);
    const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
    if (data === undefined) throw new Error(`frame without data: ${block}`);
    out.push({ event: ev, data: JSON.parse(data) as Record<string, unknown> });
  }
  return out;
}

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather of a city',
  strict: true,
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
};

describe('POST /v1/responses', () => {
  let h: Harness;
  let client: OpenAI;
  let db: Database;

  const api = async (method: string, path: string, body?: unknown, headers = auth) => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: text ? JSON.parse(text) : null,
    };
  };

  const newKey = async (ownerUserId: string) => {
    const r = await api('POST', '/admin/keys', {
      ownerUserId,
      accountId: 'acme',
      scopes: ['chat'],
    });
    expect(r.status).toBe(201);
    return r.json!.key as string;
  };

  beforeAll(async () => {
    h = await startHarness({ UPSTREAM_MAX_RETRIES: '0' });
    client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${h.url}/v1`, maxRetries: 0 });
    db = h.gateway.app.get(DATABASE);
    expect((await api('POST', '/admin/accounts', { id: 'acme', name: 'Acme' })).status).toBe(201);
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('answers non-streaming with the response object, usage and output_text', async () => {
    const r = await client.responses.create({
      model: 'sim-gpt',
      instructions: 'Be brief.',
      input: 'Hello\n#sim tokens=5',
    });
    expect(r.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(r).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'sim-gpt',
      instructions: 'Be brief.',
      store: true,
      error: null,
    });
    expect(r.output).toHaveLength(1);
    expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(r.output_text.trim().split(/\s+/)).toHaveLength(5);
    expect(r.usage).toMatchObject({ output_tokens: 5 });
    expect(r.usage!.total_tokens).toBe(r.usage!.input_tokens + 5);
  });

  it('streams the real event sequence with named events and sequence numbers', async () => {
    const res = await postJson(`${h.url}/v1/responses`, {
      model: 'sim-gpt',
      input: 'Hi\n#sim tokens=3',
      stream: true,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-switchboard-model')).toBe('sim-gpt');
    const events = await rawEvents(res);
    expect(events.map((e) => e.data.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    for (const [i, e] of events.entries()) {
      expect(e.event).toBe(e.data.type);
      expect(e.data.sequence_number).toBe(i);
    }
    const deltas = events.filter((e) => e.data.type === 'response.output_text.delta');
    const text = deltas.map((e) => e.data.delta).join('');
    expect(events[7].data.text).toBe(text);
    const completed = JSON.parse(JSON.stringify(events[10].data.response));
    expect(completed.status).toBe('completed');
    expect(completed.usage.output_tokens).toBe(3);
    expect(completed.output[0].content[0].text).toBe(text);
    // the item id is the same on every event of the item
    const itemId = (events[2].data.item as { id: string }).id;
    for (const e of events.slice(3, 10))
      expect(e.data.item_id ?? (e.data.item as { id: string }).id).toBe(itemId);
  });

  it('responses.stream of the openai client yields the final response', async () => {
    const stream = client.responses.stream({ model: 'sim-gpt', input: 'Hi\n#sim tokens=4' });
    let text = '';
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(text);
    expect(text.trim().split(/\s+/)).toHaveLength(4);
  });

  it('a function tool round trip with previous_response_id', async () => {
    const first = await client.responses.create({
      model: 'sim-gpt',
      tools: [weatherTool],
      input: 'Weather in Paris?\n#sim tool=get_weather args={"city":"Paris"}',
    });
    const call = first.output.find((o) => o.type === 'function_call')!;
    expect(call).toMatchObject({
      type: 'function_call',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      status: 'completed',
    });
    expect(call.id).toMatch(/^fc_/);
    const second = await client.responses.create({
      model: 'sim-gpt',
      previous_response_id: first.id,
      tools: [weatherTool],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp":21}' }],
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe('Tool get_weather returned: {"temp":21}');
    // the simulator saw the whole conversation: question, call, result
    const seen = (await (await fetch(`${h.sim.url}/_sim/requests?limit=1`)).json()) as {
      requests: Array<{ body: { messages: Array<{ role: string; tool_call_id?: string }> } }>;
    };
    expect(seen.requests[0].body.messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'tool',
    ]);
    expect(seen.requests[0].body.messages[2].tool_call_id).toBe(call.call_id);
  });

  it('streams a function call as output_item + function_call_arguments events', async () => {
    const res = await postJson(`${h.url}/v1/responses`, {
      model: 'sim-gpt',
      stream: true,
      tools: [weatherTool],
      input: 'x\n#sim tool=get_weather args={"city":"Oslo"}',
    });
    const events = await rawEvents(res);
    const types = events.map((e) => e.data.type);
    expect(types[0]).toBe('response.created');
    expect(types[2]).toBe('response.output_item.added');
    expect(
      types.filter((t) => t === 'response.function_call_arguments.delta').length,
    ).toBeGreaterThan(1);
    const done = events.find((e) => e.data.type === 'response.function_call_arguments.done')!;
    expect(done.data).toMatchObject({ name: 'get_weather', arguments: '{"city":"Oslo"}' });
    expect(types.slice(-2)).toEqual(['response.output_item.done', 'response.completed']);
  });

  it('previous_response_id carries the conversation (instructions are not carried)', async () => {
    const a = await client.responses.create({
      model: 'sim-gpt',
      instructions: 'SECRET-INSTRUCTIONS',
      input: 'first-question',
    });
    const b = await client.responses.create({
      model: 'sim-gpt',
      previous_response_id: a.id,
      input: 'second-question\n#sim echo=1',
    });
    expect(b.output_text).toContain('first-question');
    expect(b.output_text).toContain(a.output_text);
    expect(b.output_text).toContain('second-question');
    expect(b.output_text).not.toContain('SECRET-INSTRUCTIONS');
  });

  it('GET, input_items and DELETE of a stored response', async () => {
    const r = await client.responses.create({
      model: 'sim-gpt',
      input: [
        { role: 'developer', content: 'dev note' },
        { role: 'user', content: [{ type: 'input_text', text: 'Hello\n#sim tokens=2' }] },
      ],
    });
    const got = await client.responses.retrieve(r.id);
    expect(got).toMatchObject({ id: r.id, status: 'completed', output: r.output });
    const items = await client.responses.inputItems.list(r.id, { order: 'asc' });
    expect(items.data.map((i) => (i as { role: string }).role)).toEqual(['developer', 'user']);
    for (const i of items.data) expect(i.id).toMatch(/^msg_/);
    const page = await api('GET', `/v1/responses/${r.id}/input_items?limit=1`);
    expect(page.json).toMatchObject({ object: 'list', has_more: true });
    expect(page.json!.data[0].role).toBe('user'); // default order: newest first
    const next = await api(
      'GET',
      `/v1/responses/${r.id}/input_items?limit=1&after=${page.json!.last_id}`,
    );
    expect(next.json).toMatchObject({ has_more: false });
    expect(next.json!.data[0].role).toBe('developer');
    const del = await api('DELETE', `/v1/responses/${r.id}`);
    expect(del.json).toEqual({ id: r.id, object: 'response', deleted: true });
    expect((await api('GET', `/v1/responses/${r.id}`)).status).toBe(404);
    expect((await api('DELETE', `/v1/responses/${r.id}`)).status).toBe(404);
  });

  it('a response is in the table before its terminal event or body leaves (any replica can chain to it)', async () => {
    const stored = async (id: string) =>
      (await db.query('SELECT 1 FROM stored_responses WHERE id = $1', [id])).rows.length;
    const res = await postJson(`${h.url}/v1/responses`, {
      model: 'sim-gpt',
      stream: true,
      input: 'x\n#sim tokens=2',
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let id: string | undefined;
    while (!id) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended without response.completed');
      buf += value;
      const m = /event: response\.completed\ndata: (.*)\n/.exec(buf);
      if (m) id = (JSON.parse(m[1]) as { response: { id: string } }).response.id;
    }
    // read straight from the table, not through the service of this replica
    expect(await stored(id)).toBe(1);
    await reader.cancel();
    const plain = (await (
      await postJson(`${h.url}/v1/responses`, { model: 'sim-gpt', input: 'y' })
    ).json()) as { id: string };
    expect(await stored(plain.id)).toBe(1);
  });

  it('store: false keeps nothing', async () => {
    const r = await client.responses.create({ model: 'sim-gpt', input: 'x', store: false });
    expect((r as unknown as { store: boolean }).store).toBe(false);
    const got = await api('GET', `/v1/responses/${r.id}`);
    expect([got.status, got.json!.error.code]).toEqual([404, 'not_found']);
    const chained = await api('POST', '/v1/responses', {
      model: 'sim-gpt',
      input: 'y',
      previous_response_id: r.id,
    });
    expect([chained.status, chained.json!.error.param]).toEqual([404, 'previous_response_id']);
  });

  it("another user's response is 404 everywhere (read, items, delete, chain, item_reference)", async () => {
    const alice = await newKey('alice');
    const mallory = await newKey('mallory');
    const own = await api(
      'POST',
      '/v1/responses',
      { model: 'sim-gpt', input: 'alice-private-text' },
      bearer(alice),
    );
    expect(own.status).toBe(200);
    const id = own.json!.id as string;
    const itemId = own.json!.output[0].id as string;
    const m = bearer(mallory);
    for (const [method, path] of [
      ['GET', `/v1/responses/${id}`],
      ['GET', `/v1/responses/${id}/input_items`],
      ['DELETE', `/v1/responses/${id}`],
    ] as const) {
      const r = await api(method, path, undefined, m);
      expect([r.status, r.json!.error.code]).toEqual([404, 'not_found']);
    }
    const chain = await api(
      'POST',
      '/v1/responses',
      { model: 'sim-gpt', input: 'x\n#sim echo=1', previous_response_id: id },
      m,
    );
    expect(chain.status).toBe(404);
    const ref = await api(
      'POST',
      '/v1/responses',
      { model: 'sim-gpt', input: [{ type: 'item_reference', id: itemId }] },
      m,
    );
    expect(ref.status).toBe(404);
    expect(h.sim.stats().started).toBe(1); // only alice's own request reached upstream
    // still there for its owner
    expect((await api('GET', `/v1/responses/${id}`, undefined, bearer(alice))).status).toBe(200);
  });

  it('item_reference resolves an item of the caller’s stored responses', async () => {
    const first = await client.responses.create({
      model: 'sim-gpt',
      tools: [weatherTool],
      input: 'Rome?\n#sim tool=get_weather args={"city":"Rome"}',
    });
    const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    const second = await client.responses.create({
      model: 'sim-gpt',
      tools: [weatherTool],
      input: [
        { role: 'user', content: 'Rome?\n#sim tool=get_weather args={"city":"Rome"}' },
        { type: 'item_reference', id: call.id! },
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
      ],
    });
    expect(second.output_text).toBe('Tool get_weather returned: sunny');
  });

  it('max_output_tokens reached -> status incomplete with the reason', async () => {
    const r = await client.responses.create({
      model: 'sim-gpt',
      input: 'x\n#sim tokens=20',
      max_output_tokens: 4,
    });
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });

  it('an upstream failure mid-stream ends with response.failed and is stored as failed', async () => {
    const res = await postJson(`${h.url}/v1/responses`, {
      model: 'sim-gpt',
      stream: true,
      input: 'x\n#sim tokens=10 fail=500 after=3',
    });
    expect(res.status).toBe(200);
    const events = await rawEvents(res);
    const last = events[events.length - 1].data;
    expect(last.type).toBe('response.failed');
    const response = JSON.parse(JSON.stringify(last.response));
    expect(response.status).toBe('failed');
    expect(response.error.code).toMatch(/^upstream_/);
    const stored = await api('GET', `/v1/responses/${response.id}`);
    expect(stored.json!.status).toBe('failed');
  });

  it('an upstream failure before the first token is a real HTTP status', async () => {
    const r = await api('POST', '/v1/responses', {
      model: 'sim-gpt',
      stream: true,
      input: 'x\n#sim fail=429',
    });
    expect([r.status, r.json!.error.code]).toEqual([429, 'upstream_rate_limited']);
  });

  it('a client that disconnects mid-stream aborts the upstream call; usage is still recorded', async () => {
    const key = await newKey('leaver');
    const ac = new AbortController();
    const res = await postJson(
      `${h.url}/v1/responses`,
      { model: 'sim-gpt', stream: true, input: 'x\n#sim tokens=500 tps=50' },
      bearer(key),
      ac.signal,
    );
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await waitFor(() => h.sim.stats().aborted === 1, 5000);
    await waitFor(
      async () =>
        (
          await db.query<{ status: string }>(
            "SELECT status FROM usage_ledger WHERE user_id = 'leaver'",
          )
        ).rows[0]?.status === 'cancelled',
      5000,
      20,
    );
  });

  it('is billed like chat: one ledger row per upstream call of the caller', async () => {
    const key = await newKey('payer');
    const r = await api(
      'POST',
      '/v1/responses',
      { model: 'sim-gpt', input: 'x\n#sim tokens=7' },
      bearer(key),
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit-policy')).toBeTruthy();
    await waitFor(
      async () =>
        (
          await db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM usage_ledger WHERE user_id = 'payer' AND output_tokens = 7",
          )
        ).rows[0].n === 1,
      5000,
      20,
    );
  });

  it('validates input and names unsupported parameters', async () => {
    const bad = await api('POST', '/v1/responses', { model: 'sim-gpt', input: 42 });
    expect([bad.status, bad.json!.error.code, bad.json!.error.param]).toEqual([
      400,
      'invalid_request',
      'input',
    ]);
    const file = await api('POST', '/v1/responses', {
      model: 'sim-gpt',
      input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }],
    });
    expect([file.status, file.json!.error.code, file.json!.error.param]).toEqual([
      400,
      'unsupported_parameter',
      'input.0.content.0',
    ]);
    const missing = await api('POST', '/v1/responses', {
      model: 'sim-gpt',
      input: [{ type: 'item_reference', id: 'fc_nope' }],
    });
    expect(missing.status).toBe(404);
    expect(h.sim.stats().started).toBe(0);
  });
});
