import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '@switchboard/common';
import { assertBlobKey, generateBlobKey } from './blob-key';
import type { BlobPutOptions, BlobPutResult, BlobStore } from './blob-store.port';
import { MeteredStream } from './metered-stream';

const TMP_DIR = '.tmp';

/**
 * Blobs under `<root>` (DATA_DIR/blobs). A write goes to `<root>/.tmp/<random>`
 * and is renamed into place only when complete, so a reader never sees half a
 * file; a failed or oversize write deletes its temp file, and temp files left
 * by a crashed process are swept by `init()`.
 */
export class FsBlobStore implements BlobStore {
  readonly kind = 'fs' as const;
  #ready?: Promise<void>;

  constructor(readonly root: string) {}

  /** creates the directories and removes temp files of a previous crashed run */
  init(): Promise<void> {
    this.#ready ??= (async () => {
      const tmp = join(this.root, TMP_DIR);
      await mkdir(tmp, { recursive: true });
      for (const name of await readdir(tmp)) await rm(join(tmp, name), { force: true });
    })();
    return this.#ready;
  }

  async put(
    body: Readable | AsyncIterable<Uint8Array>,
    options: BlobPutOptions = {},
  ): Promise<BlobPutResult> {
    const source = body instanceof Readable ? body : Readable.from(body);
    // an error while the directories are being made must not go unhandled;
    // pipeline() below still sees it (the stream is then `errored`)
    source.on('error', () => undefined);
    await this.init();
    const key = generateBlobKey();
    const tmp = join(this.root, TMP_DIR, `${randomBytes(12).toString('hex')}.part`);
    const meter = new MeteredStream(options.maxBytes);
    try {
      // flush: fsync before close, so the rename never publishes unwritten data
      await pipeline(source, meter, createWriteStream(tmp, { flags: 'wx', flush: true }));
      const dest = this.path(key);
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(tmp, dest);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      // the caller's stream may still be flowing (HTTP request): stop reading it
      if (body instanceof Readable && !body.destroyed) body.destroy();
      throw err;
    }
    return { key, size: meter.bytesPassed, sha256: meter.sha256 };
  }

  /**
   * Opens the file before returning its stream: a blob deleted afterwards still
   * reads whole (POSIX keeps an open file), and a missing one is `not_found`
   * here rather than an error in the middle of a response. The stream owns the
   * handle and closes it on end, error or destroy.
   */
  async get(key: string): Promise<Readable> {
    const file = this.path(assertBlobKey(key));
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      throw missing(err);
    }
    try {
      if (!(await handle.stat()).isFile()) throw new AppError('not_found');
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw missing(err);
    }
    return handle.createReadStream();
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(assertBlobKey(key)), { force: true });
  }

  private path(key: string): string {
    return join(this.root, ...key.split('/'));
  }
}

/** a file that is not there is `not_found`; other I/O errors (EMFILE, EIO...) stay what they are */
function missing(err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')
    return new AppError('not_found', undefined, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
