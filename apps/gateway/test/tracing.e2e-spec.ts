import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { waitFor } from '@switchboard/common/testing';
import { chatBody, postJson, readSse, startHarness, type Harness } from './gateway.harness';

/**
 * OpenTelemetry traces (OTEL_TRACES_ENABLED): a real gateway and simulator, spans
 * captured by an in-memory exporter in place of OTLP.
 */

async function frames(res: Response): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for await (const f of readSse(res))
    if (f.data) out.push(JSON.parse(f.data) as Record<string, unknown>);
  return out;
}

/** the server-owned request id (the client's x-request-id when it sent none of its own) */
const serverId = (res: Response) =>
  res.headers.get('x-switchboard-request-id') ?? res.headers.get('x-request-id')!;

const byRequest = (spans: ReadableSpan[], requestId: string) => {
  const root = spans.find((s) => s.attributes['switchboard.request_id'] === requestId);
  const calls = root
    ? spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId)
    : [];
  return { root, calls };
};

describe('OpenTelemetry traces of chat runs', () => {
  const exporter = new InMemorySpanExporter();
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      { OTEL_TRACES_ENABLED: 'true', OTEL_SERVICE_NAME: 'switchboard-test' },
      { traceExporter: exporter },
    );
  });
  afterAll(() => h.close());

  it('traces a request and its upstream call with the GenAI semantic conventions', async () => {
    const res = await postJson(`${h.url}/chat`, chatBody('hi\n#sim tokens=5 cached=2'));
    expect(res.status).toBe(200);
    const requestId = serverId(res);
    const end = (await frames(res)).find((f) => f.type === 'end')!;
    let trace = byRequest([], requestId);
    await waitFor(() => {
      trace = byRequest(exporter.getFinishedSpans(), requestId);
      return trace.calls.length === 1;
    });
    const { root, calls } = trace;
    expect(root!.name).toBe('chat sim-gpt');
    expect(root!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'sim-gpt',
      'switchboard.status': 'complete',
      'switchboard.upstream_calls': 1,
    });
    expect(root!.resource.attributes['service.name']).toBe('switchboard-test');
    const call = calls[0];
    expect(call.name).toBe('chat gpt-4o-mini');
    expect(call.kind).toBe(SpanKind.CLIENT);
    const usage = end.usage as { inputTokens: number; outputTokens: number };
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': usage.inputTokens,
      'gen_ai.usage.output_tokens': usage.outputTokens,
      'gen_ai.usage.cache_read.input_tokens': 2,
      'gen_ai.response.finish_reasons': ['stop'],
      'switchboard.model': 'sim-gpt',
      'switchboard.attempt': 1,
      'switchboard.usage_reported': true,
    });
    expect(usage.outputTokens).toBe(5);
    expect(call.status.code).not.toBe(SpanStatusCode.ERROR);
    // the call lies inside the request, with its real times
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    expect(ms(call.startTime)).toBeGreaterThanOrEqual(ms(root!.startTime));
    expect(ms(call.endTime)).toBeLessThanOrEqual(ms(root!.endTime) + 1);
    expect(call.spanContext().traceId).toBe(root!.spanContext().traceId);
  });

  it('traces every failed attempt of a retried call as an error span with error.type', async () => {
    const res = await postJson(`${h.url}/chat`, chatBody('x\n#sim fail=500'));
    expect(res.status).toBe(502);
    const requestId = serverId(res);
    let trace = byRequest([], requestId);
    await waitFor(() => {
      trace = byRequest(exporter.getFinishedSpans(), requestId);
      return trace.root !== undefined;
    });
    const { root, calls } = trace;
    expect(root!.status.code).toBe(SpanStatusCode.ERROR);
    expect(root!.attributes['error.type']).toBe('upstream_error');
    expect(calls.length).toBeGreaterThan(1);
    expect(root!.attributes['switchboard.upstream_calls']).toBe(calls.length);
    for (const c of calls) {
      expect(c.status.code).toBe(SpanStatusCode.ERROR);
      expect(c.attributes['error.type']).toBe('upstream_error');
    }
    expect(calls.map((c) => c.attributes['switchboard.attempt']).sort()).toEqual(
      calls.map((_, i) => i + 1),
    );
  });
});

describe('OpenTelemetry traces are off by default', () => {
  it('records nothing without OTEL_TRACES_ENABLED', async () => {
    const exporter = new InMemorySpanExporter();
    const h = await startHarness({}, { traceExporter: exporter });
    try {
      const res = await postJson(`${h.url}/chat`, chatBody('hi\n#sim tokens=3'));
      expect(res.status).toBe(200);
      await frames(res);
    } finally {
      await h.close();
    }
    // the gateway closed: a span would have been exported by now
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
