import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '@switchboard/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { MetricsService } from '@switchboard/observability';
import type { Response } from 'express';
import { Subject, type Subscription } from 'rxjs';
import { RunChatUseCase } from '@switchboard/chat';
import type { ChatRunInput, PipelineEvent, RunSummary, StopCode } from '@switchboard/chat';
import { sendError } from '../http/send-error';
import { DrainState } from '../health/drain-state';
import { EmfService } from '../health/emf.service';
import { SseResponse } from './sse-response';
import { StreamRegistry } from './stream-registry.service';
import type { WireEncoder } from './wire-encoder';

/**
 * Connects a pipeline run to an HTTP response: registers the stream (kill switch,
 * drain, heartbeat, active-streams gauge), honours back-pressure, tears the run
 * down when the client goes away, and records latency metrics.
 */
@Injectable()
export class ChatStreamRunner {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runChat: RunChatUseCase,
    private readonly registry: StreamRegistry,
    private readonly metrics: MetricsService,
    private readonly drain: DrainState,
    private readonly emf: EmfService,
  ) {}

  /** Throws `draining` (503 + Retry-After) once shutdown has begun. */
  admit(): void {
    if (this.drain.draining) throw new AppError('draining', undefined, { retryAfterSeconds: 1 });
  }

  streamSse(res: Response, input: ChatRunInput, encoder: WireEncoder): void {
    const sse = new SseResponse(res, this.config.chat.heartbeatMs);
    const stop$ = new Subject<StopCode>();
    const unregister = this.registry.add({
      requestId: input.correlationId,
      ownerUserId: input.principal.userId,
      stop: (code) => stop$.next(code),
      heartbeat: (now) => sse.heartbeat(now),
    });
    let firstWriteSeen = false;
    let upstreamTtftMs: number | undefined;
    let ending = false;
    const write = (frames: ReturnType<WireEncoder['encode']>) => {
      for (const f of frames)
        if (typeof f === 'string') sse.data(f);
        else sse.data(f.data, f.event);
    };

    const onEvent = (ev: PipelineEvent) => {
      if (ev.type === 'admitted') {
        if (!res.headersSent) for (const [k, v] of Object.entries(ev.headers)) res.setHeader(k, v);
        return;
      }
      if (ev.type === 'upstream_first_token') {
        upstreamTtftMs = ev.upstreamTtftMs;
        if (!res.headersSent) {
          res.setHeader('x-switchboard-model', ev.model);
          res.setHeader('x-switchboard-attempt', String(ev.attempt));
        }
        return;
      }
      if (ev.type === 'error' && !sse.started) {
        // Nothing sent yet: a real HTTP status is more useful than an error frame.
        encoder.rejected?.(ev.error);
        sendError(res, ev.error, input.correlationId);
        return;
      }
      const frames = encoder.encode(ev);
      if (ev.type === 'end') {
        this.#recordOutcome(ev.summary);
        ending = true;
        const finish = () => {
          write(frames);
          write(encoder.trailer);
          sse.end();
        };
        if (encoder.settle) void encoder.settle().finally(finish);
        else finish();
        return;
      }
      write(frames);
      if (!firstWriteSeen && (ev.type === 'text' || ev.type === 'tool_call')) {
        firstWriteSeen = true;
        // after the frame's write (queued first, on the same tick queue): the
        // metrics do not delay the first token
        process.nextTick(() => this.#recordFirstToken(input, upstreamTtftMs));
      }
    };

    let sub: Subscription | undefined = undefined;
    const teardown = () => {
      unregister();
      sub?.unsubscribe();
    };
    // 'close' fires when the response finished OR the client went away.
    res.on('close', teardown);
    sub = this.runChat.execute(input, { flow: sse.flow, stop$ }).subscribe({
      next: onEvent,
      error: (e: unknown) => {
        // The pipeline maps its errors to events; reaching here is a bug.
        if (!res.headersSent)
          sendError(
            res,
            new AppError('internal_error', undefined, { cause: e }),
            input.correlationId,
          );
        else sse.end();
        teardown();
      },
      complete: () => {
        if (!ending && !sse.ended && !res.writableEnded) sse.end();
      },
    });
    if (res.writableEnded || res.destroyed) teardown();
  }

  /** Non-streaming: collects the run and answers once; a client abort still cancels upstream. */
  collect(
    res: Response,
    input: ChatRunInput,
    onDone: (events: PipelineEvent[], summary: RunSummary) => unknown,
  ): void {
    const stop$ = new Subject<StopCode>();
    const unregister = this.registry.add({
      requestId: input.correlationId,
      ownerUserId: input.principal.userId,
      stop: (code) => stop$.next(code),
      heartbeat: () => undefined,
    });
    const events: PipelineEvent[] = [];
    let error: AppError | undefined;
    let summary: RunSummary | undefined;
    const sub = this.runChat.execute(input, { stop$, whole: true }).subscribe({
      next: (ev) => {
        if (ev.type === 'admitted') {
          for (const [k, v] of Object.entries(ev.headers)) res.setHeader(k, v);
        } else if (ev.type === 'upstream_first_token') {
          this.#recordFirstToken(input, ev.upstreamTtftMs);
          res.setHeader('x-switchboard-model', ev.model);
          res.setHeader('x-switchboard-attempt', String(ev.attempt));
        } else if (ev.type === 'error') error ??= ev.error;
        else if (ev.type === 'end') {
          summary = ev.summary;
          this.#recordOutcome(ev.summary);
        } else events.push(ev);
      },
      error: (e: unknown) =>
        sendError(
          res,
          new AppError('internal_error', undefined, { cause: e }),
          input.correlationId,
        ),
      complete: () => {
        if (error || !summary)
          sendError(res, error ?? new AppError('internal_error'), input.correlationId);
        else
          Promise.resolve(onDone(events, summary)).then(
            (body) => {
              if (res.headersSent) return;
              // Written directly: express's res.json() would hash the body for an
              // ETag, which a POST answer never uses.
              res.statusCode = 200;
              res.setHeader('Content-Type', 'application/json; charset=utf-8');
              res.end(JSON.stringify(body));
            },
            (e: unknown) =>
              sendError(
                res,
                new AppError('internal_error', undefined, { cause: e }),
                input.correlationId,
              ),
          );
      },
    });
    res.on('close', () => {
      unregister();
      sub.unsubscribe();
    });
  }

  #recordFirstToken(input: ChatRunInput, upstreamTtftMs: number | undefined): void {
    const ttftMs = performance.now() - input.receivedAt;
    this.metrics.ttft.observe({ model: input.modelId }, ttftMs / 1000);
    this.emf.acc.ttft(ttftMs);
    if (upstreamTtftMs !== undefined) {
      this.metrics.upstreamTtft.observe(
        { model: input.modelId, provider: '' },
        upstreamTtftMs / 1000,
      );
      this.metrics.gatewayAddedLatency.observe(Math.max(0, ttftMs - upstreamTtftMs) / 1000);
    }
  }

  #recordOutcome(s: RunSummary): void {
    this.emf.acc.request();
    if (s.status === 'error') this.emf.acc.error();
    this.emf.acc.tokensOut(s.usage.outputTokens);
    this.emf.acc.cost(s.costMicros);
  }
}
