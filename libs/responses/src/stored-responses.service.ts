import { StoredResponseRepository } from './stored-response.repository';
import type {
  ItemPage,
  ItemPageQuery,
  ResponseItem,
  StoredResponse,
} from './stored-response.types';

export interface StoredResponsesOptions {
  /** how long a stored response is kept (RESPONSES_RETENTION_DAYS) */
  retentionMs: number;
  /** how often expired responses are deleted */
  purgeIntervalMs: number;
  now?: () => Date;
  logger?: { error(msg: string, err?: unknown): void };
}

/**
 * Stored responses of the Responses API: private to their owner, kept for the
 * retention period. Writes are asynchronous to the answer; a read on this
 * replica first waits for a write of the same id still in flight, so a client
 * that chains `previous_response_id` right after `response.completed` finds it.
 */
export class StoredResponses {
  readonly #pending = new Map<string, Promise<void>>();
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;
  /** a response was stored since the last purge (true at boot: earlier runs may have left some) */
  #written = true;

  constructor(
    private readonly repo: StoredResponseRepository,
    private readonly opts: StoredResponsesOptions,
  ) {
    this.#now = opts.now ?? (() => new Date());
  }

  /** The oldest creation time still readable. */
  horizon(): Date {
    return new Date(this.#now().getTime() - this.opts.retentionMs);
  }

  now(): Date {
    return this.#now();
  }

  /** Stores the response; a failure is logged (the client already has its answer). */
  save(r: StoredResponse): Promise<void> {
    this.#written = true;
    const p = this.repo
      .insert(r)
      .catch((e: unknown) => this.opts.logger?.error('storing a response failed', e))
      .finally(() => this.#pending.delete(r.id));
    this.#pending.set(r.id, p);
    return p;
  }

  async #settled(id: string): Promise<void> {
    await this.#pending.get(id);
  }

  async get(id: string, ownerUserId: string): Promise<Record<string, unknown> | undefined> {
    await this.#settled(id);
    return this.repo.findBody(id, ownerUserId, this.horizon());
  }

  async delete(id: string, ownerUserId: string): Promise<boolean> {
    await this.#settled(id);
    return this.repo.delete(id, ownerUserId, this.horizon());
  }

  async conversation(id: string, ownerUserId: string): Promise<ResponseItem[] | undefined> {
    await this.#settled(id);
    return this.repo.conversation(id, ownerUserId, this.horizon());
  }

  findItems(ownerUserId: string, itemIds: string[]): Promise<Map<string, ResponseItem>> {
    return this.repo.findItems(ownerUserId, itemIds, this.horizon());
  }

  async inputItems(
    id: string,
    ownerUserId: string,
    q: ItemPageQuery,
  ): Promise<ItemPage | undefined> {
    await this.#settled(id);
    return this.repo.inputItems(id, ownerUserId, this.horizon(), q);
  }

  /** Deletes every response past the retention period. */
  purgeExpired(): Promise<number> {
    return this.repo.purge(this.horizon());
  }

  startPurging(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      // Expired rows are invisible to readers already; the purge only reclaims space. A
      // replica that stored nothing since its last purge leaves the database alone, so an
      // idle serverless database can pause.
      if (!this.#written) return;
      this.#written = false;
      this.purgeExpired().catch((e: unknown) =>
        this.opts.logger?.error('purging expired responses failed', e),
      );
    }, this.opts.purgeIntervalMs);
    this.#timer.unref();
  }

  /** Stops purging and waits for writes in flight. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#pending.values()]);
  }
}
