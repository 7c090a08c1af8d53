import { cutResponse, type SimResponse } from './sim-http';
import type { ChatDialect, ErrorReply, WireChunk } from './dialect';
import type { SimReply } from './reply.planner';

/** Pieces encoded into one write at most, so a huge answer still yields to back-pressure. */
const MAX_PIECES_PER_WRITE = 256;

export interface PlayContext {
  res: SimResponse;
  dialect: ChatDialect;
  reply: SimReply;
  stream: boolean;
  /** Called right before the simulator destroys the connection on purpose. */
  onDrop(): void;
}

/**
 * Plays a planned reply over `res` with the directive's timing and failure.
 * At most one timer is pending per response, none while waiting for 'drain'
 * or when hanging, and everything stops when the connection closes.
 */
export function playReply(ctx: PlayContext): void {
  const { res, reply } = ctx;
  const d = reply.directive;

  if (d.fail !== undefined && d.after === undefined) {
    switch (d.fail) {
      case 'hang':
        return;
      case 'drop':
        drop(ctx);
        return;
      case 429:
        sendError(res, ctx.dialect.error('rate_limit'));
        return;
      case 500:
        sendError(res, ctx.dialect.error('server'));
        return;
    }
  }
  if (ctx.stream) streamReply(ctx);
  else completeReply(ctx);
}

export function sendError(res: SimResponse, error: ErrorReply): void {
  const body = JSON.stringify(error.body);
  res.writeHead(error.status, {
    ...error.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendJson(
  res: SimResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function drop(ctx: PlayContext): void {
  ctx.onDrop();
  cutResponse(ctx.res);
}

/** Non-streaming: wait as long as the stream would have taken, then answer at once. */
function completeReply(ctx: PlayContext): void {
  const { res, reply } = ctx;
  const d = reply.directive;
  const started = performance.now();
  const delay = d.ttftMs + (d.tps > 0 ? (reply.pieces.count * 1000) / d.tps : 0);
  const finish = (): void => {
    if (d.fail !== undefined) {
      // A failure after n tokens cannot be partial without streaming: cut the connection.
      if (d.fail !== 'hang') drop(ctx);
      return;
    }
    const latencyMs = Math.round(performance.now() - started);
    sendJson(res, 200, ctx.dialect.body(reply, latencyMs), ctx.dialect.responseHeaders);
  };
  if (delay <= 0) {
    finish();
    return;
  }
  const timer = setTimeout(finish, delay);
  res.once('close', () => clearTimeout(timer));
}

function streamReply(ctx: PlayContext): void {
  const { res, reply } = ctx;
  const d = reply.directive;
  const encoder = ctx.dialect.encoder(reply);
  const total = reply.pieces.count;
  // With a failure, stop at `after` tokens (or at the end, before the terminator).
  const limit = d.fail !== undefined ? Math.min(d.after ?? 0, total) : total;
  const interval = d.tps > 0 ? 1000 / d.tps : 0;

  let next = 0;
  let opened = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;

  res.once('close', () => {
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  });

  res.writeHead(200, ctx.dialect.streamHeaders);
  res.flushHeaders?.();
  const t0 = performance.now();

  const schedule = (delayMs: number): void => {
    timer = setTimeout(step, Math.max(0, delayMs));
  };

  const step = (): void => {
    timer = undefined;
    immediate = undefined;
    if (closed) return;
    const elapsed = performance.now() - t0;
    if (elapsed < d.ttftMs) {
      schedule(d.ttftMs - elapsed);
      return;
    }
    const due =
      interval === 0 ? limit : Math.min(limit, Math.floor((elapsed - d.ttftMs) / interval) + 1);
    const batch: WireChunk[] = [];
    if (!opened) {
      batch.push(encoder.open());
      opened = true;
    }
    const stop = Math.min(due, next + MAX_PIECES_PER_WRITE);
    while (next < stop) batch.push(encoder.piece(next++));

    if (next === limit && d.fail === undefined) {
      batch.push(encoder.close());
      res.end(join(batch));
      return;
    }
    if (next === limit && d.fail !== undefined) {
      // Let the sent tokens reach the client before the failure strikes.
      res.write(join(batch), () => {
        if (d.fail !== 'hang' && !closed) drop(ctx);
      });
      return;
    }
    const writable = batch.length === 0 || res.write(join(batch));
    if (!writable) res.once('drain', step);
    // More is already due (a large batch): continue after pending I/O, not after a 1 ms timer.
    else if (next < due) immediate = setImmediate(step);
    else schedule(d.ttftMs + next * interval - (performance.now() - t0));
  };

  if (d.ttftMs > 0) schedule(d.ttftMs);
  else step();
}

function join(chunks: WireChunk[]): WireChunk {
  if (chunks.every((c) => typeof c === 'string')) return chunks.join('');
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
}
