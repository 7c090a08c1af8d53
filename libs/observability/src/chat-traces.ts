import type { OnApplicationShutdown } from '@nestjs/common';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';

/** Injection token: a span exporter that replaces OTLP (tests use an in-memory one). */
export const TRACE_EXPORTER = Symbol('TRACE_EXPORTER');

/** One upstream model call of a chat run, as it ended. */
export interface TracedModelCall {
  /** provider kind: openai, azure-openai, bedrock, gemini, openai-compatible */
  providerKind: string;
  /** the catalogue's model id */
  modelId: string;
  /** the model name sent upstream */
  upstreamModel: string;
  attempt: number;
  /** epoch ms */
  startedAt: number;
  durationMs: number;
  status: string;
  errorCode?: string;
  finishReason?: string;
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number };
  usageReported: boolean;
  costMicros: number;
  upstreamTtftMs?: number;
}

/** One chat request and every upstream call it made. */
export interface TracedChatRun {
  requestId: string;
  modelId: string;
  assistantId?: string;
  /** epoch ms */
  startedAt: number;
  endedAt: number;
  /** how the run ended: complete, cancelled, error */
  status: string;
  errorCode?: string;
  calls: TracedModelCall[];
}

export interface ChatTracesOptions {
  enabled: boolean;
  serviceName: string;
  /** replaces the OTLP/HTTP exporter (which reads OTEL_EXPORTER_OTLP_* itself) */
  exporter?: SpanExporter;
}

/** `gen_ai.provider.name` well-known values of the GenAI semantic conventions. */
const GEN_AI_PROVIDER: Record<string, string> = {
  openai: 'openai',
  'azure-openai': 'azure.ai.openai',
  bedrock: 'aws.bedrock',
  gemini: 'gcp.gemini',
};

/**
 * OpenTelemetry traces of chat runs, off by default. A run is traced when it ends, from
 * what it recorded anyway: one span for the request and one CLIENT span per upstream
 * call (OpenTelemetry GenAI semantic conventions), with their real start and end times.
 * Off, nothing is built: callers check `enabled` first, so the hot path pays nothing.
 */
export class ChatTraces implements OnApplicationShutdown {
  readonly enabled: boolean;
  readonly #provider?: TracerProvider;
  readonly #tracer?: Tracer;

  constructor(opts: ChatTracesOptions) {
    this.enabled = opts.enabled;
    if (!opts.enabled) return;
    const exporter = opts.exporter ?? new OTLPTraceExporter();
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
      // an injected exporter sees each span as it ends; OTLP gets batches off the hot path
      spanProcessors: [
        opts.exporter
          ? new SimpleSpanProcessor({ exporter })
          : new BatchSpanProcessor({ exporter }),
      ],
    });
    this.#tracer = this.#provider.getTracer('switchboard');
  }

  record(run: TracedChatRun): void {
    const tracer = this.#tracer;
    if (!tracer) return;
    const root = tracer.startSpan(
      `chat ${run.modelId}`,
      {
        kind: SpanKind.INTERNAL,
        startTime: run.startedAt,
        attributes: {
          'gen_ai.operation.name': run.assistantId ? 'invoke_agent' : 'chat',
          'gen_ai.request.model': run.modelId,
          'switchboard.request_id': run.requestId,
          'switchboard.status': run.status,
          'switchboard.upstream_calls': run.calls.length,
          ...(run.assistantId ? { 'gen_ai.agent.id': run.assistantId } : {}),
          ...(run.errorCode ? { 'error.type': run.errorCode } : {}),
        },
      },
      ROOT_CONTEXT,
    );
    if (run.status === 'error') root.setStatus({ code: SpanStatusCode.ERROR });
    const parent = trace.setSpan(ROOT_CONTEXT, root);
    for (const call of run.calls) {
      const span = tracer.startSpan(
        `chat ${call.upstreamModel}`,
        { kind: SpanKind.CLIENT, startTime: call.startedAt, attributes: callAttributes(call) },
        parent,
      );
      if (call.status === 'error') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(call.startedAt + call.durationMs);
    }
    root.end(run.endedAt);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.#provider?.shutdown();
  }
}

function callAttributes(call: TracedModelCall): Attributes {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': GEN_AI_PROVIDER[call.providerKind] ?? call.providerKind,
    'gen_ai.request.model': call.upstreamModel,
    'gen_ai.usage.input_tokens': call.usage.inputTokens,
    'gen_ai.usage.output_tokens': call.usage.outputTokens,
    'gen_ai.usage.cache_read.input_tokens': call.usage.cachedInputTokens,
    ...(call.finishReason ? { 'gen_ai.response.finish_reasons': [call.finishReason] } : {}),
    ...(call.errorCode ? { 'error.type': call.errorCode } : {}),
    'switchboard.model': call.modelId,
    'switchboard.attempt': call.attempt,
    'switchboard.status': call.status,
    'switchboard.usage_reported': call.usageReported,
    'switchboard.cost_usd': call.costMicros / 1e6,
    ...(call.upstreamTtftMs === undefined
      ? {}
      : { 'switchboard.time_to_first_token_ms': call.upstreamTtftMs }),
  };
}
