import type { Readable } from 'node:stream';
import { AppError } from '@switchboard/common';
import busboy from 'busboy';
import type { Response } from 'express';
import type { GatewayRequest } from '../http/request.types';

export interface UploadedPart {
  /** the client's file name (display only) */
  filename?: string;
  /** the part's Content-Type as declared by the client */
  declaredType?: string;
}

export interface ReceiveUploadOptions<T> {
  /** the file size limit; the store enforces it while streaming */
  maxBytes: number;
  /** consumes the file stream (and rejects when it errors) */
  store(stream: Readable, part: UploadedPart): Promise<T>;
  /** undoes a stored file when the request fails after it was stored */
  discard(stored: T): Promise<void>;
}

/** the multipart form field that carries the file */
export const FILE_FIELD = 'file';

/** room for the multipart framing around the file when judging Content-Length */
const FRAMING_SLACK_BYTES = 1024 * 1024;
/**
 * After a refusal the rest of the body is read and discarded (so the client
 * gets the error instead of a reset connection), but only up to this much and
 * this long; then the connection is closed.
 */
const DRAIN_MAX_BYTES = 32 * 1024 * 1024;
const DRAIN_MAX_MS = 30_000;

/**
 * Streams the one `file` part of a multipart/form-data request into `store`,
 * never holding the whole file in memory. Refusals (wrong form, size, type) are
 * thrown as AppErrors after the request body was drained; a client that goes
 * away mid-upload destroys the file stream, so `store` cleans up after itself.
 */
export async function receiveUpload<T>(
  req: GatewayRequest,
  res: Response,
  opts: ReceiveUploadOptions<T>,
): Promise<T> {
  if (!req.is('multipart/form-data'))
    throw new AppError(
      'unsupported_media_type',
      `Upload the file as multipart/form-data in a "${FILE_FIELD}" field.`,
    );
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > opts.maxBytes + FRAMING_SLACK_BYTES) {
    await drain(req, res);
    throw tooLarge(opts.maxBytes);
  }

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      limits: { files: 1, fields: 20, fieldSize: 4096, parts: 25, headerPairs: 50 },
    });
  } catch (err) {
    // no or malformed boundary
    throw new AppError('invalid_request', `The multipart body is malformed: ${message(err)}`);
  }

  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let stored: Promise<T> | undefined;
    let fileStream: Readable | undefined;
    let parsed = false;

    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      parser.removeAllListeners();
      parser.on('error', () => undefined);
      if (fileStream && !fileStream.destroyed) fileStream.destroy(toError(err));
      const cleanup = stored
        ? stored.then(
            (t) => opts.discard(t),
            () => undefined,
          )
        : Promise.resolve();
      void Promise.all([cleanup.catch(() => undefined), drain(req, res)]).then(() =>
        reject(toError(err)),
      );
    };

    const finishIfDone = () => {
      if (settled || !parsed) return;
      if (!stored) {
        fail(new AppError('invalid_request', `The form has no "${FILE_FIELD}" file field.`));
        return;
      }
      stored.then(
        (t) => {
          if (settled) return;
          settled = true;
          resolve(t);
        },
        (err: unknown) => fail(err),
      );
    };

    parser.on('file', (name, stream, info) => {
      if (name !== FILE_FIELD || stored) {
        stream.resume();
        fail(
          new AppError('invalid_request', `Send exactly one file, in the "${FILE_FIELD}" field.`, {
            param: name,
          }),
        );
        return;
      }
      fileStream = stream;
      stored = opts.store(stream, {
        filename: info.filename,
        declaredType: info.mimeType,
      });
      // refusals by the store (type, size) end the request at once
      stored.catch((err: unknown) => fail(err));
    });
    parser.on('filesLimit', () =>
      fail(new AppError('invalid_request', `Send exactly one file, in the "${FILE_FIELD}" field.`)),
    );
    parser.on('partsLimit', () =>
      fail(new AppError('invalid_request', 'The form has too many parts.')),
    );
    parser.on('fieldsLimit', () =>
      fail(new AppError('invalid_request', 'The form has too many fields.')),
    );
    parser.on('error', (err) =>
      fail(new AppError('invalid_request', `The multipart body is malformed: ${message(err)}`)),
    );
    parser.on('close', () => {
      parsed = true;
      finishIfDone();
    });
    // the client went away before the body was complete: nothing may remain
    req.on('close', () => {
      if (!req.complete) fail(new AppError('cancelled', 'The upload was interrupted.'));
    });
    req.pipe(parser);
  });
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('payload_too_large', `The file exceeds the limit of ${maxBytes} bytes.`);
}

/** reads and discards what is left of the body, bounded; closes the connection when cut short */
function drain(req: GatewayRequest, res: Response): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  res.setHeader('Connection', 'close');
  return new Promise((resolve) => {
    let bytes = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', count);
      req.off('end', done);
      req.off('close', done);
      resolve();
    };
    const count = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    req.on('data', count);
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}
