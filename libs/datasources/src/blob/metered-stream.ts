import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AppError } from '@switchboard/common';

export class PayloadTooLargeError extends AppError {
  constructor(readonly limitBytes: number) {
    super('payload_too_large', `The file exceeds the limit of ${limitBytes} bytes.`);
  }
}

/**
 * Pass-through that counts bytes and hashes them, and fails with
 * `payload_too_large` as soon as the count passes the limit, so an oversize
 * upload is cut off mid-stream instead of being written whole first.
 */
export class MeteredStream extends Transform {
  #size = 0;
  readonly #hash: Hash = createHash('sha256');
  #digest?: string;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
  }

  // not `size`: lib-storage reads a body's `size` as its total length
  get bytesPassed(): number {
    return this.#size;
  }

  /** hex sha256 of everything that passed; call after the stream finished */
  get sha256(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#size += buf.length;
    if (this.#size > this.maxBytes) {
      cb(new PayloadTooLargeError(this.maxBytes));
      return;
    }
    this.#hash.update(buf);
    cb(null, buf);
  }
}
