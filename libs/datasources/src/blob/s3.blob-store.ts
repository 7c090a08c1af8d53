import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError } from '@switchboard/common';
import { assertBlobKey, generateBlobKey } from './blob-key';
import type { BlobPutOptions, BlobPutResult, BlobStore } from './blob-store.port';
import { MeteredStream } from './metered-stream';

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** key prefix, e.g. `switchboard/blobs` (slashes at either end are normalised) */
  prefix?: string;
  /** multipart part size; lib-storage's minimum is 5 MiB */
  partSizeBytes?: number;
  queueSize?: number;
}

/**
 * Blobs in S3. Uploads stream through lib-storage's `Upload` (single PUT for
 * small bodies, multipart beyond one part); on the byte limit or any error the
 * upload is aborted (lib-storage aborts the multipart upload) and the key is
 * deleted in case a single-part PUT had already landed.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly #prefix: string;

  constructor(private readonly opts: S3BlobStoreOptions) {
    const p = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.#prefix = p ? `${p}/` : '';
  }

  /** the S3 object key of a blob key */
  objectKey(key: string): string {
    return `${this.#prefix}${assertBlobKey(key)}`;
  }

  async put(
    body: Readable | AsyncIterable<Uint8Array>,
    options: BlobPutOptions = {},
  ): Promise<BlobPutResult> {
    const key = generateBlobKey();
    const meter = new MeteredStream(options.maxBytes);
    const source = body instanceof Readable ? body : Readable.from(body);
    let failure: unknown;
    const upload = new Upload({
      client: this.opts.client,
      params: {
        Bucket: this.opts.bucket,
        Key: this.objectKey(key),
        Body: meter,
        ContentType: options.contentType ?? 'application/octet-stream',
      },
      partSize: this.opts.partSizeBytes ?? 5 * 1024 * 1024,
      queueSize: this.opts.queueSize ?? 2,
      leavePartsOnError: false,
    });
    const onError = (err: unknown) => {
      failure ??= err;
      void upload.abort().catch(() => undefined);
    };
    meter.on('error', onError);
    source.on('error', (err) => {
      onError(err);
      meter.destroy(err);
    });
    source.pipe(meter);
    try {
      await upload.done();
    } catch (err) {
      failure ??= err;
    }
    if (failure !== undefined) {
      source.unpipe(meter);
      if (!source.destroyed) source.destroy();
      await this.deleteObject(this.objectKey(key)).catch(() => undefined);
      throw failure instanceof Error ? failure : new Error('S3 upload failed', { cause: failure });
    }
    return { key, size: meter.bytesPassed, sha256: meter.sha256 };
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.opts.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.objectKey(key) }),
      );
      if (!res.Body) throw new AppError('not_found');
      return res.Body as Readable;
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey')
        throw new AppError('not_found', undefined, { cause: err });
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.deleteObject(this.objectKey(key));
  }

  private async deleteObject(objectKey: string): Promise<void> {
    await this.opts.client.send(
      new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: objectKey }),
    );
  }
}
