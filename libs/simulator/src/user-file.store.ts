import { BadRequest } from './wire.util';

/**
 * Files uploaded through the OpenAI Files API (`POST /v1/files`), kept with
 * their bytes in memory. Unlike produced container files, uploads are arbitrary
 * client data and cannot be regenerated, so the store is bounded by count and
 * by total size; the oldest uploads are forgotten first.
 * https://platform.openai.com/docs/api-reference/files
 */

export interface UserFile {
  /** `file-sim…` */
  id: string;
  filename: string;
  purpose: string;
  /** Epoch seconds. */
  createdAt: number;
  content: Buffer;
}

export interface UserFileLimits {
  maxFiles: number;
  maxTotalBytes: number;
}

export const DEFAULT_USER_FILE_LIMITS: UserFileLimits = Object.freeze({
  maxFiles: 1000,
  maxTotalBytes: 256 * 1024 * 1024,
});

export class UserFileStore {
  /** Insertion order is upload order: the oldest first. */
  private readonly files = new Map<string, UserFile>();
  private total = 0;
  private seq = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limits: UserFileLimits = DEFAULT_USER_FILE_LIMITS,
  ) {}

  get size(): number {
    return this.files.size;
  }

  /** Bytes held by all live uploads. */
  get totalBytes(): number {
    return this.total;
  }

  /** Stores an upload, forgetting the oldest ones beyond the limits. */
  add(filename: string, purpose: string, content: Buffer): UserFile {
    if (content.length > this.limits.maxTotalBytes) {
      throw new BadRequest(
        `File exceeds the simulator's upload storage of ${this.limits.maxTotalBytes} bytes.`,
        'file',
      );
    }
    const file: UserFile = {
      id: `file-sim${this.nextId()}`,
      filename,
      purpose,
      createdAt: Math.floor(this.now() / 1000),
      content,
    };
    this.files.set(file.id, file);
    this.total += content.length;
    for (const oldest of this.files.values()) {
      if (this.files.size <= this.limits.maxFiles && this.total <= this.limits.maxTotalBytes) {
        break;
      }
      this.delete(oldest.id);
    }
    return file;
  }

  get(id: string): UserFile | undefined {
    return this.files.get(id);
  }

  /** True when the file existed. */
  delete(id: string): boolean {
    const file = this.files.get(id);
    if (file === undefined) return false;
    this.files.delete(id);
    this.total -= file.content.length;
    return true;
  }

  /** Live uploads, oldest first. */
  list(): UserFile[] {
    return [...this.files.values()];
  }

  clear(): void {
    this.files.clear();
    this.total = 0;
  }

  private nextId(): string {
    this.seq = (this.seq + 1) % 1_000_000_000;
    const random = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
    return `${this.seq.toString(36).padStart(6, '0')}${random}`;
  }
}
