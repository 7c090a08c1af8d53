/**
 * In-memory code-interpreter containers and the files runs leave in them.
 *
 * Only metadata is kept: a file's bytes are a pure function of its name and size
 * (see container-file.content.ts), generated again on every download, so a
 * thousand containers of 64 MiB files cost a few hundred kilobytes.
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
  /** The size the directive asked for; undefined = the type's default content. */
  requestedBytes?: number;
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
}

export const DEFAULT_CONTAINER_LIMITS: ContainerLimits = Object.freeze({
  maxContainers: 1000,
  idleMs: 20 * 60 * 1000,
  maxFilesPerContainer: 100,
});

export class ContainerStore {
  /** Insertion order is least recently used first: a touch re-inserts. */
  private readonly containers = new Map<string, SimContainer>();
  private seq = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limits: ContainerLimits = DEFAULT_CONTAINER_LIMITS,
  ) {}

  get size(): number {
    this.sweep();
    return this.containers.size;
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

  /** Adds a file to a container obtained from this store and marks the container used. */
  addFile(
    container: SimContainer,
    name: string,
    bytes: number,
    requestedBytes?: number,
  ): ContainerFile {
    const now = this.now();
    const file: ContainerFile = {
      id: `cfile_sim${this.nextId()}`,
      containerId: container.id,
      name,
      bytes,
      createdAt: Math.floor(now / 1000),
      requestedBytes,
    };
    container.files.push(file);
    if (container.files.length > this.limits.maxFilesPerContainer) container.files.shift();
    container.lastActiveMs = now;
    // A run that outlived its container's expiry or eviction brings it back.
    this.insert(container);
    return file;
  }

  clear(): void {
    this.containers.clear();
  }

  /** (Re)inserts as most recently used, evicting the least recently used beyond the cap. */
  private insert(container: SimContainer): void {
    this.containers.delete(container.id);
    this.containers.set(container.id, container);
    for (const id of this.containers.keys()) {
      if (this.containers.size <= this.limits.maxContainers) break;
      this.containers.delete(id);
    }
  }

  /** Drops expired containers: they sit at the front of the LRU order. */
  private sweep(): void {
    const cutoff = this.now() - this.limits.idleMs;
    for (const [id, container] of this.containers) {
      if (container.lastActiveMs > cutoff) break;
      this.containers.delete(id);
    }
  }

  private nextId(): string {
    this.seq = (this.seq + 1) % 1_000_000_000;
    const random = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
    return `${this.seq.toString(36).padStart(6, '0')}${random}`;
  }
}
