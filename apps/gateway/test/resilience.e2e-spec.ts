import {
  auth,
  postJson,
  readSse,
  startHarness,
  waitFor,
  TEST_MODELS,
  type Harness,
} from './gateway.harness';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const pricing = (input: number, output: number) => ({
  input,
  cachedInput: input / 2,
  output,
  checked: '2025-10-01',
});

/** primary -> fallback: different upstream models on the simulator, different prices. */
const MODELS = {
  models: [
    ...TEST_MODELS.models,
    {
      id: 'primary',
      provider: 'openai',
      upstreamModel: 'primary-upstream',
      contextWindow: 16000,
      maxOutputTokens: 4096,
      pricing: pricing(10, 30),
      capabilities: ['chat', 'streaming'],
      fallbacks: ['backup'],
      ttftTimeoutMs: 800,
      wholeTimeoutMs: 2500,
    },
    {
      id: 'backup',
      provider: 'openai',
      upstreamModel: 'backup-upstream',
      contextWindow: 16000,
      maxOutputTokens: 4096,
      pricing: pricing(1, 2),
      capabilities: ['chat', 'streaming'],
    },
  ],
};

async function frames(res: Response) {
  const out: Record<string, unknown>[] = [];
  for await (const f of readSse(res))
    if (f.data) out.push(JSON.parse(f.data) as Record<string, unknown>);
  return out;
}

const chat = (text: string) => ({
  messages: [{ role: 'user', content: text }],
  options: { model: { id: 'primary' } },
});

describe('retries, fallbacks and the circuit breaker', () => {
  let h: Harness;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-models-'));
    const file = join(dir, 'models.json');
    await writeFile(file, JSON.stringify(MODELS));
    h = await startHarness({
      MODELS_FILE: file,
      UPSTREAM_MAX_RETRIES: '1',
      BREAKER_FAILURE_THRESHOLD: '1000',
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('primary fails with 500 before the first token -> answer from the fallback, billed to the fallback', async () => {
    const res = await postJson(
      `${h.url}/chat`,
      chat('hi\n#sim tokens=6 fail=500 failmodel=primary-upstream'),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchboard-model')).toBe('backup');
    expect(res.headers.get('x-switchboard-attempt')).toBe('3');
    const f = await frames(res);
    expect(f.filter((x) => x.s === 'answer')).toHaveLength(6);
    const end = f[f.length - 1] as {
      model: string;
      attempt: number;
      status: string;
      usage: { outputTokens: number; costMicros: number; inputTokens: number };
    };
    expect(end).toMatchObject({
      s: 'result',
      type: 'end',
      model: 'backup',
      attempt: 3,
      status: 'complete',
    });
    // priced at the fallback's rates: 1 $/M input, 2 $/M output
    expect(end.usage.costMicros).toBe(
      Math.ceil(end.usage.inputTokens * 1 + end.usage.outputTokens * 2),
    );
    // primary tried twice (one retry), then the fallback once
    const models = (await (await fetch(`${h.sim.url}/_sim/requests?limit=10`)).json()) as {
      requests: Array<{ body: { model: string } }>;
    };
    expect(models.requests.map((r) => r.body.model)).toEqual([
      'primary-upstream',
      'primary-upstream',
      'backup-upstream',
    ]);
  });

  it('primary fails after 5 tokens -> error frame, no fallback, partial usage recorded', async () => {
    const res = await postJson(`${h.url}/chat`, chat('hi\n#sim tokens=20 fail=500 after=5'));
    const f = await frames(res);
    expect(f.filter((x) => x.s === 'answer')).toHaveLength(5);
    expect(f[f.length - 2]).toMatchObject({ s: 'error', error: { code: 'upstream_disconnected' } });
    const end = f[f.length - 1] as {
      model: string;
      status: string;
      usage: { outputTokens: number; estimated: boolean };
    };
    expect(end).toMatchObject({ model: 'primary', status: 'error' });
    expect(end.usage.outputTokens).toBeGreaterThanOrEqual(5);
    expect(end.usage.estimated).toBe(true);
    expect(h.sim.stats().started).toBe(1);
  });

  it('a 429 is retried after Retry-After, then falls back', async () => {
    const t0 = Date.now();
    const res = await postJson(
      `${h.url}/chat`,
      chat('hi\n#sim tokens=2 fail=429 failmodel=primary-upstream'),
    );
    const f = await frames(res);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000); // honoured Retry-After: 1
    expect(f[f.length - 1]).toMatchObject({ model: 'backup', status: 'complete' });
  });

  it('TTFT timeout on the primary (hang) -> fallback answers; the hung upstream call is aborted', async () => {
    const res = await postJson(
      `${h.url}/chat`,
      chat('hi\n#sim tokens=3 fail=hang failmodel=primary-upstream'),
    );
    const f = await frames(res);
    expect(f[f.length - 1]).toMatchObject({ model: 'backup', status: 'complete' });
    await waitFor(() => h.sim.stats().aborted === 2);
  });

  describe('a non-streaming client (the upstream answers whole)', () => {
    const ask = (text: string) =>
      postJson(`${h.url}/v1/chat/completions`, {
        model: 'primary',
        messages: [{ role: 'user', content: text }],
      });

    it('asks upstream without streaming and is timed as a whole, not by its first token', async () => {
      // 1.2 s before the answer: over the 800 ms first-token limit, under the 2.5 s whole limit
      const res = await ask('hi\n#sim tokens=3 ttft=1200');
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        choices: Array<{ message: { content: string } }>;
        usage: { completion_tokens: number };
      };
      expect(body.choices[0].message.content).toBe('The quick brown');
      expect(body.usage.completion_tokens).toBe(3);
      expect(res.headers.get('x-switchboard-model')).toBe('primary');
      const sent = (await (await fetch(`${h.sim.url}/_sim/requests?limit=1`)).json()) as {
        requests: Array<{ body: Record<string, unknown> }>;
      };
      expect(sent.requests[0].body).toMatchObject({ model: 'primary-upstream', stream: false });
    });

    it('a hung whole answer times out, is retried, then falls back; the hung calls are aborted', async () => {
      const res = await ask('hi\n#sim tokens=3 fail=hang failmodel=primary-upstream');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchboard-model')).toBe('backup');
      expect(((await res.json()) as { model: string }).model).toBe('primary');
      // the primary and its one retry, each cut at the whole-answer limit
      await waitFor(() => h.sim.stats().aborted === 2);
    });
  });

  it('non-retryable upstream errors are not retried', async () => {
    const res = await postJson(
      `${h.url}/v1/chat/completions`,
      { model: 'primary', max_tokens: 99999, messages: [{ role: 'user', content: 'x' }] },
      auth,
    );
    expect(res.status).toBe(400);
    expect(h.sim.stats().started).toBe(0);
  });
});

describe('circuit breaker', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      UPSTREAM_MAX_RETRIES: '0',
      BREAKER_FAILURE_THRESHOLD: '2',
      BREAKER_COOLDOWN_SECONDS: '60',
    });
  });
  afterAll(() => h.close());

  it('after the threshold the provider fails fast without an upstream call', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await postJson(`${h.url}/chat`, {
        messages: [{ role: 'user', content: 'x\n#sim fail=500' }],
        options: { model: { id: 'sim-gpt' } },
      });
      expect(r.status).toBe(502);
    }
    h.sim.reset();
    const r = await postJson(`${h.url}/chat`, {
      messages: [{ role: 'user', content: 'x' }],
      options: { model: { id: 'sim-gpt' } },
    });
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe(
      'upstream_unavailable',
    );
    expect(h.sim.stats().started).toBe(0);
  });
});
