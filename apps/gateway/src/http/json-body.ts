import type { NextFunction, Request, Response } from 'express';

/** The errors body-parser raises, so one classifier maps both to the catalogue. */
class BodyError extends Error {
  constructor(
    readonly type: 'entity.too.large' | 'entity.parse.failed' | 'request.aborted',
    readonly status: number,
    /** the byte limit passed (as body-parser's own error carries it) */
    readonly limit?: number,
  ) {
    super(type);
  }
}

/** JSON texts `strict` mode accepts start with an object or an array. */
function strictStart(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b /* { */ || c === 0x5b; /* [ */
  }
  return false;
}

/**
 * Reads a plain UTF-8 `application/json` body (no content-encoding) in one
 * pass: the same result and errors as `express.json({ limit, strict: true })`
 * (413 past the limit, declared or streamed; 400 on malformed or non
 * object/array JSON; `{}` for an empty body) without its per-request type,
 * charset and stream machinery. Anything else (compressed or non-UTF-8 bodies)
 * is left to `express.json`, which runs after this and skips a request whose
 * body was read.
 */
export function jsonBody(limit: number) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const headers = req.headers;
    const declared = headers['content-length'];
    if (declared === undefined && headers['transfer-encoding'] === undefined) return next();
    const type = headers['content-type'];
    if (type === undefined || !isPlainJson(type)) return next();
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return next();
    if (declared !== undefined && Number(declared) > limit)
      return next(new BodyError('entity.too.large', 413, limit));

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      next(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // stop reading: the error handler answers and closes the connection
        req.pause();
        finish(new BodyError('entity.too.large', 413, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      let text =
        chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
      // a byte order mark is dropped, as body-parser's decoder does
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.length === 0) {
        req.body = {};
        return finish();
      }
      if (!strictStart(text)) return finish(new BodyError('entity.parse.failed', 400));
      try {
        req.body = JSON.parse(text) as unknown;
      } catch {
        return finish(new BodyError('entity.parse.failed', 400));
      }
      // the request is complete now, so express.json after this leaves it alone
      finish();
    };
    const onError = () => finish(new BodyError('request.aborted', 400));
    const onAborted = onError;
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  };
}

/**
 * `application/json`, optionally with `charset=utf-8` and nothing else; type-is
 * accepts every such type as `application/json` too (the spec checks both).
 */
export function isPlainJson(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const mime = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (mime !== 'application/json') return false;
  if (semi === -1) return true;
  const params = contentType
    .slice(semi + 1)
    .trim()
    .toLowerCase();
  return params === '' || params === 'charset=utf-8' || params === 'charset="utf-8"';
}
