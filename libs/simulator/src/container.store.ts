/**
 * In-memory code-interpreter containers and the files in them.
 *
 * For files a run produced only metadata is kept: their bytes are a pure
 * function of name and size (see container-file.content.ts), generated again
 * on every download, so a thousand containers of 64 MiB files cost a few
 * hundred kilobytes. Files a request put in from uploads (`file_ids`) keep a
 * reference to the uploaded bytes, which outlives the upload as a copy in a
 * real container would; the bytes so held are capped, least recently used
 * containers going first.
 *
 * Like OpenAI's, a container expires after 20 minutes without use; expiry and
 * the container cap are enforced on access, without timers.
 * https://platform.openai.com/docs/guides/tools-code-interpreter#containers
 */

export interface ContainerFile {
  /** `cfile_sim…` */
  id: string;
  containerId: string;
  /** File name under /mnt/data. */
  name: string;
  bytes: number;
  /** Epoch seconds. */
  createdAt: number;
  /** `user`: put in from an upload; `assistant`: written by a run. */
  source: 'user' | 'assistant';
  /** The size the directive asked for; undefined = the type's default content. */
  requestedBytes?: number;
  /** A user file's bytes; produced files have none (generated on download). */
  content?: Buffer;
}

export interface SimContainer {
  /** `cntr_sim…` */
  id: string;
  name: string;
  /** Epoch seconds. */
  createdAt: number;
  /** Epoch ms of the last use; drives expiry. */
  lastActiveMs: number;
  /** Oldest first. */
  files: ContainerFile[];
}

export interface ContainerLimits {
  maxContainers: number;
  /** Idle time after which a container and its files are gone. */
  idleMs: number;
  /** The oldest files of a reused container are forgotten beyond this. */
  maxFilesPerContainer: number;
  /** Bytes of user files held by all containers; least recently used containers go beyond it. */
  maxUserBytes: number;
}

export const DEFAULT_CONTAINER_LIMITS: ContainerLimits = Object.freeze({
  maxContainers: 1000,
  idleMs: 20 * 60 * 1000,
  maxFilesPerContainer: 100,
  maxUserBytes: 256 * 1024 * 1024,
});

export class ContainerStore {
  /** Insertion order is least recently used first: a touch re-inserts. */
  private readonly containers = new Map<string, SimContainer>();
  /** User-file bytes referenced by the live containers. */
  private heldBytes = 0;
  private seq = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limits: ContainerLimits = DEFAULT_CONTAINER_LIMITS,
  ) {}

  get size(): number {
    this.sweep();
    return this.containers.size;
  }

  /** Bytes of user files the live containers hold. */
  get userBytes(): number {
    this.sweep();
    return this.heldBytes;
  }

  /** A new empty container; evicts the least recently used one beyond the cap. */
  create(name = 'code-interpreter'): SimContainer {
    this.sweep();
    const now = this.now();
    const container: SimContainer = {
      id: `cntr_sim${this.nextId()}`,
      name,
      createdAt: Math.floor(now / 1000),
      lastActiveMs: now,
      files: [],
    };
    this.insert(container);
    return container;
  }

  /** Minutes of idleness after which a container expires. */
  get expiryMinutes(): number {
    return this.limits.idleMs / 60_000;
  }

  /** The live container with this id, marked as used now; undefined when unknown or expired. */
  get(id: string): SimContainer | undefined {
    this.sweep();
    const container = this.containers.get(id);
    if (container === undefined) return undefined;
    container.lastActiveMs = this.now();
    this.insert(container);
    return container;
  }

  /** Adds a produced file to a container obtained from this store and marks the container used. */
  addFile(
    container: SimContainer,
    name: string,
    bytes: number,
    requestedBytes?: number,
  ): ContainerFile {
    return this.put(container, {
      id: `cfile_sim${this.nextId()}`,
      containerId: container.id,
      name,
      bytes,
      createdAt: Math.floor(this.now() / 1000),
      source: 'assistant',
      requestedBytes,
    });
  }

  /** Adds an uploaded file (its bytes as given) to a container and marks the container used. */
  addUserFile(container: SimContainer, name: string, content: Buffer): ContainerFile {
    return this.put(container, {
      id: `cfile_sim${this.nextId()}`,
      containerId: container.id,
      name,
      bytes: content.length,
      createdAt: Math.floor(this.now() / 1000),
      source: 'user',
      content,
    });
  }

  clear(): void {
    this.containers.clear();
    this.heldBytes = 0;
  }

  private put(container: SimContainer, file: ContainerFile): ContainerFile {
    // Out while its files change, so the held bytes follow what goes in and out.
    this.remove(container);
    container.files.push(file);
    if (container.files.length > this.limits.maxFilesPerContainer) container.files.shift();
    container.lastActiveMs = this.now();
    // A run that outlived its container's expiry or eviction brings it back.
    this.insert(container);
    return file;
  }

  /**
   * (Re)inserts as most recently used, evicting the least recently used beyond
   * the caps (never `container` itself).
   */
  private insert(container: SimContainer): void {
    this.remove(container);
    this.containers.set(container.id, container);
    this.heldBytes += userBytesOf(container);
    for (const other of this.containers.values()) {
      const over =
        this.containers.size > this.limits.maxContainers ||
        this.heldBytes > this.limits.maxUserBytes;
      if (!over) break;
      if (other !== container) this.remove(other);
    }
  }

  private remove(container: SimContainer): void {
    if (this.containers.get(container.id) !== container) return;
    this.containers.delete(container.id);
    this.heldBytes -= userBytesOf(container);
  }

  /** Drops expired containers: they sit at the front of the LRU order. */
  private sweep(): void {
    const cutoff = this.now() - this.limits.idleMs;
    for (const container of this.containers.values()) {
      if (container.lastActiveMs > cutoff) break;
      this.remove(container);
    }
  }

  private nextId(): string {
    this.seq = (this.seq + 1) % 1_000_000_000;
    const random = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
    return `${this.seq.toString(36).padStart(6, '0')}${random}`;
  }
}

function userBytesOf(container: SimContainer): number {
  let total = 0;
  for (const file of container.files) total += file.content?.length ?? 0;
  return total;
}
