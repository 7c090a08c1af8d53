import {
  auth,
  chatBody,
  postJson,
  readSse,
  startHarness,
  waitFor,
  type Harness,
} from './gateway.harness';

async function frames(res: Response) {
  const out: Record<string, unknown>[] = [];
  for await (const f of readSse(res))
    if (f.data) out.push(JSON.parse(f.data) as Record<string, unknown>);
  return out;
}

describe('errors: bad input and upstream failures', () => {
  let h: Harness;
  beforeAll(
    async () =>
      (h = await startHarness({
        BODY_LIMIT_BYTES: String(64 * 1024),
        MAX_MESSAGES: '50',
        // failures are asserted one by one here; retries and the breaker have their own suite
        UPSTREAM_MAX_RETRIES: '0',
        BREAKER_FAILURE_THRESHOLD: '1000',
      })),
  );
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  const big = 'x'.repeat(70 * 1024);
  const cases: Array<
    [string, string, unknown, Record<string, string> | undefined, number, string]
  > = [
    ['malformed JSON', '/chat', '{"messages": [', undefined, 400, 'invalid_json'],
    ['a JSON array body', '/chat', '[]', undefined, 400, 'invalid_request'],
    [
      'messages of the wrong type',
      '/chat',
      { messages: 'hi', options: { model: { id: 'sim-gpt' } } },
      undefined,
      400,
      'invalid_request',
    ],
    [
      'empty messages',
      '/chat',
      { messages: [], options: { model: { id: 'sim-gpt' } } },
      undefined,
      400,
      'invalid_request',
    ],
    [
      'an unknown role',
      '/chat',
      { messages: [{ role: 'wizard', content: 'x' }], options: { model: { id: 'sim-gpt' } } },
      undefined,
      400,
      'invalid_request',
    ],
    [
      'a last message from the assistant',
      '/chat',
      { messages: [{ role: 'assistant', content: 'x' }], options: { model: { id: 'sim-gpt' } } },
      undefined,
      400,
      'invalid_request',
    ],
    [
      'too many messages',
      '/chat',
      {
        messages: Array.from({ length: 51 }, () => ({ role: 'user', content: 'x' })),
        options: { model: { id: 'sim-gpt' } },
      },
      undefined,
      400,
      'invalid_request',
    ],
    [
      'a missing model',
      '/chat',
      { messages: [{ role: 'user', content: 'x' }], options: {} },
      undefined,
      400,
      'invalid_request',
    ],
    ['an oversize body', '/chat', chatBody(big), undefined, 413, 'payload_too_large'],
    [
      'an unknown model',
      '/chat',
      { messages: [{ role: 'user', content: 'x' }], options: { model: { id: 'nope' } } },
      undefined,
      404,
      'model_not_found',
    ],
    [
      'an unknown model (OpenAI)',
      '/v1/chat/completions',
      { model: 'nope', messages: [{ role: 'user', content: 'x' }] },
      undefined,
      404,
      'model_not_found',
    ],
    [
      'n > 1 (OpenAI)',
      '/v1/chat/completions',
      { model: 'sim-gpt', n: 2, messages: [{ role: 'user', content: 'x' }] },
      undefined,
      400,
      'unsupported_parameter',
    ],
    [
      'logprobs (OpenAI)',
      '/v1/chat/completions',
      { model: 'sim-gpt', logprobs: true, messages: [{ role: 'user', content: 'x' }] },
      undefined,
      400,
      'unsupported_parameter',
    ],
    [
      'top_logprobs (Responses)',
      '/v1/responses',
      { model: 'sim-gpt', top_logprobs: 2, input: 'x' },
      undefined,
      400,
      'unsupported_parameter',
    ],
    [
      'a hosted tool (Responses)',
      '/v1/responses',
      { model: 'sim-gpt', tools: [{ type: 'web_search' }], input: 'x' },
      undefined,
      400,
      'unsupported_parameter',
    ],
    [
      'truncation auto (Responses)',
      '/v1/responses',
      { model: 'sim-gpt', truncation: 'auto', input: 'x' },
      undefined,
      400,
      'unsupported_parameter',
    ],
    [
      'include logprobs (Responses)',
      '/v1/responses',
      { model: 'sim-gpt', include: ['message.output_text.logprobs'], input: 'x' },
      undefined,
      400,
      'unsupported_parameter',
    ],
    [
      'background mode (Responses)',
      '/v1/responses',
      { model: 'sim-gpt', background: true, input: 'x' },
      undefined,
      400,
      'unsupported_parameter',
    ],
    [
      'temperature out of range (OpenAI)',
      '/v1/chat/completions',
      { model: 'sim-gpt', temperature: 3, messages: [{ role: 'user', content: 'x' }] },
      undefined,
      400,
      'invalid_request',
    ],
    [
      'max_tokens above the model limit',
      '/v1/chat/completions',
      { model: 'sim-gpt', max_tokens: 999999, messages: [{ role: 'user', content: 'x' }] },
      undefined,
      400,
      'invalid_request',
    ],
    [
      'an embeddings model for chat',
      '/v1/chat/completions',
      { model: 'sim-embed', messages: [{ role: 'user', content: 'x' }] },
      undefined,
      404,
      'model_not_found',
    ],
    ['no key', '/chat', chatBody('x'), {}, 401, 'unauthorized'],
    [
      'a bad key',
      '/chat',
      chatBody('x'),
      { authorization: 'Bearer wrong-key-wrong-key' },
      401,
      'unauthorized',
    ],
    [
      'a non-bearer scheme',
      '/chat',
      chatBody('x'),
      { authorization: 'Basic dXNlcjpwYXNz' },
      401,
      'unauthorized',
    ],
  ];

  it.each(cases)('%s (%s)', async (_name, path, body, headers, status, code) => {
    const res = await postJson(`${h.url}${path}`, body, headers ?? auth);
    expect(res.status).toBe(status);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const json = (await res.json()) as {
      error: { code: string; message: string; requestId: string };
    };
    expect(json.error.code).toBe(code);
    expect(json.error.requestId).toBe(res.headers.get('x-request-id'));
    expect(json.error.message).not.toMatch(/at .*\.ts|Error:/);
    expect(h.sim.stats().started).toBe(0);
  });

  it('field-level details name the failing field', async () => {
    const res = await postJson(`${h.url}/chat`, {
      messages: [{ role: 'user', content: 5 }],
      options: { model: { id: 'sim-gpt' } },
    });
    const json = (await res.json()) as { error: { details: Array<{ path: string }> } };
    expect(json.error.details.map((d) => d.path)).toContain('messages.0.content');
  });

  it('a non-JSON content type is 415', async () => {
    const res = await fetch(`${h.url}/chat`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'unsupported_media_type',
    );
  });

  it('unknown routes are 404 not_found for authenticated callers', async () => {
    const res = await fetch(`${h.url}/nope`, { headers: auth });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('upstream 429 before the first token -> HTTP 429 upstream_rate_limited with Retry-After', async () => {
    const res = await postJson(`${h.url}/chat`, chatBody('x\n#sim fail=429'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'upstream_rate_limited',
    );
  });

  it('upstream 500 before the first token -> HTTP 502 upstream_error, no internal detail', async () => {
    const res = await postJson(`${h.url}/v1/chat/completions`, {
      model: 'sim-gpt',
      messages: [{ role: 'user', content: 'x\n#sim fail=500' }],
      stream: true,
    });
    expect(res.status).toBe(502);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('upstream_error');
    expect(json.error.message).toBe('The model provider returned an error.');
  });

  it('upstream hang -> upstream_timeout within the model TTFT bound, upstream aborted', async () => {
    const t0 = Date.now();
    const res = await postJson(`${h.url}/chat`, chatBody('x\n#sim fail=hang'));
    // the 1 s heartbeat default is 15 s here, so nothing was sent yet: a real status
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');
    expect(Date.now() - t0).toBeLessThan(3000);
    await waitFor(() => h.sim.stats().aborted === 1);
    expect(h.sim.stats().open).toBe(0);
  });

  it('upstream drop after 3 tokens -> 3 answers, an error frame, the end frame with partial usage', async () => {
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('x\n#sim tokens=10 drop after=3'.replace('drop', 'fail=drop')),
    );
    expect(res.status).toBe(200);
    const f = await frames(res);
    expect(f.filter((x) => x.s === 'answer')).toHaveLength(3);
    expect(f[f.length - 2]).toMatchObject({ s: 'error', error: { code: 'upstream_disconnected' } });
    expect(f[f.length - 1]).toMatchObject({ s: 'result', type: 'end', status: 'error' });
    expect(
      (f[f.length - 1].usage as { outputTokens: number; estimated: boolean }).outputTokens,
    ).toBeGreaterThanOrEqual(3);
  });

  it('upstream 500 after 5 tokens (OpenAI stream) -> error chunk then [DONE]; no leaked stream', async () => {
    const res = await postJson(`${h.url}/v1/chat/completions`, {
      model: 'sim-gpt',
      stream: true,
      messages: [{ role: 'user', content: 'x\n#sim tokens=20 fail=500 after=5' }],
    });
    expect(res.status).toBe(200);
    const raw: string[] = [];
    for await (const fr of readSse(res)) if (fr.data) raw.push(fr.data);
    expect(raw[raw.length - 1]).toBe('[DONE]');
    expect(JSON.parse(raw[raw.length - 2])).toMatchObject({
      error: { code: 'upstream_disconnected' },
    });
    const text = (await (await fetch(`${h.url}/metrics`)).text())
      .split('\n')
      .find((l) => l.startsWith('switchboard_active_streams '));
    expect(text).toBe('switchboard_active_streams 0');
  });

  it('health, ready and metrics need no key; everything else does', async () => {
    for (const p of ['/health', '/ready', '/metrics'])
      expect((await fetch(`${h.url}${p}`)).status).toBe(200);
    expect((await fetch(`${h.url}/v1/models`)).status).toBe(401);
  });
});
