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
  await refuseBeforeParsing(req, res, opts.maxBytes);
  return new UploadReceiver(req, res, opts, createParser(req)).receive();
}

/** a body that is not a form, or declares more bytes than the limit allows */
async function refuseBeforeParsing(
  req: GatewayRequest,
  res: Response,
  maxBytes: number,
): Promise<void> {
  if (!req.is('multipart/form-data'))
    throw new AppError(
      'unsupported_media_type',
      `Upload the file as multipart/form-data in a "${FILE_FIELD}" field.`,
    );
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes + FRAMING_SLACK_BYTES) {
    await drain(req, res);
    throw tooLarge(maxBytes);
  }
}

function createParser(req: GatewayRequest): busboy.Busboy {
  try {
    return busboy({
      headers: req.headers,
      limits: { files: 1, fields: 20, fieldSize: 4096, parts: 25, headerPairs: 50 },
    });
  } catch (err) {
    // no or malformed boundary
    throw new AppError('invalid_request', `The multipart body is malformed: ${message(err)}`);
  }
}

/** One upload: parser events in, one settlement out (the stored file, or the first failure). */
class UploadReceiver<T> {
  private settled = false;
  private stored: Promise<T> | undefined;
  private fileStream: Readable | undefined;
  private parsed = false;
  private resolve!: (stored: T) => void;
  private reject!: (err: Error) => void;

  constructor(
    private readonly req: GatewayRequest,
    private readonly res: Response,
    private readonly opts: ReceiveUploadOptions<T>,
    private readonly parser: busboy.Busboy,
  ) {}

  receive(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.listen();
      this.req.pipe(this.parser);
    });
  }

  private listen(): void {
    const { parser, req } = this;
    parser.on('file', (name, stream, info) => this.onFile(name, stream, info));
    parser.on('filesLimit', () =>
      this.fail(
        new AppError('invalid_request', `Send exactly one file, in the "${FILE_FIELD}" field.`),
      ),
    );
    parser.on('partsLimit', () =>
      this.fail(new AppError('invalid_request', 'The form has too many parts.')),
    );
    parser.on('fieldsLimit', () =>
      this.fail(new AppError('invalid_request', 'The form has too many fields.')),
    );
    parser.on('error', (err) =>
      this.fail(
        new AppError('invalid_request', `The multipart body is malformed: ${message(err)}`),
      ),
    );
    parser.on('close', () => {
      this.parsed = true;
      this.finishIfDone();
    });
    // the client went away before the body was complete: nothing may remain
    req.on('close', () => {
      if (!req.complete) this.fail(new AppError('cancelled', 'The upload was interrupted.'));
    });
  }

  private onFile(name: string, stream: Readable, info: busboy.FileInfo): void {
    if (name !== FILE_FIELD || this.stored) {
      stream.resume();
      this.fail(
        new AppError('invalid_request', `Send exactly one file, in the "${FILE_FIELD}" field.`, {
          param: name,
        }),
      );
      return;
    }
    this.fileStream = stream;
    this.stored = this.opts.store(stream, {
      filename: info.filename,
      declaredType: info.mimeType,
    });
    // refusals by the store (type, size) end the request at once
    this.stored.catch((err: unknown) => this.fail(err));
  }

  private finishIfDone(): void {
    if (this.settled || !this.parsed) return;
    if (!this.stored) {
      this.fail(new AppError('invalid_request', `The form has no "${FILE_FIELD}" file field.`));
      return;
    }
    this.stored.then(
      (t) => {
        if (this.settled) return;
        this.settled = true;
        this.resolve(t);
      },
      (err: unknown) => this.fail(err),
    );
  }

  /** the first failure wins: stop parsing, undo a stored file, drain, then reject */
  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const { parser, req, res, stored, fileStream, opts } = this;
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
      this.reject(toError(err)),
    );
  }
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
