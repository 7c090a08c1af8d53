import { hasScope, type Principal } from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import { randomUUID } from 'node:crypto';
import type { ModelDirectory } from '../assistants.config';
import type { AssistantRepository } from './assistant.repository';
import type { AssistantInput, AssistantRecord } from './assistant.types';

/** Account membership, looked up at the time of the check (`AccountService` fits). */
export interface MembershipLookup {
  isMember(userId: string, accountId: string): Promise<boolean>;
  accountsOf(userId: string): Promise<Array<{ id: string }>>;
}

/**
 * What the caller may read, looked up at the time of the check (the files
 * domain's visibility rules; `FilesService` fits through a thin adapter).
 */
export interface DocumentVisibility {
  /** the ids among `ids` of files the caller can read */
  readableFileIds(p: Principal, ids: string[]): Promise<string[]>;
  /** the tags among `tags` carried by at least one file the caller can read */
  readableTags(p: Principal, tags: string[]): Promise<string[]>;
}

export interface AssistantServiceOptions {
  /** whether the operator enabled `fetch_url` (a guarded fetcher is configured) */
  fetchUrlEnabled?: boolean;
}

/**
 * User-defined assistants: the owner writes; the owner and members of an
 * account it is shared with may read and use it. Membership is looked up when
 * it is checked, never taken from a token, so removing a member takes effect
 * on their next request.
 */
export class AssistantService {
  constructor(
    private readonly repo: AssistantRepository,
    private readonly membership: MembershipLookup,
    private readonly models: ModelDirectory,
    private readonly documents: DocumentVisibility,
    private readonly opts: AssistantServiceOptions = {},
  ) {}

  async create(p: Principal, input: AssistantInput): Promise<AssistantRecord> {
    await this.#validate(p, input);
    const now = new Date();
    const record: AssistantRecord = {
      id: `asst_${randomUUID().replace(/-/g, '')}`,
      ownerUserId: p.userId,
      ...input,
      createdAt: now,
      updatedAt: now,
    };
    await this.repo.insert(record);
    return record;
  }

  /** Own assistants and those shared with any account the caller belongs to. */
  async list(p: Principal): Promise<AssistantRecord[]> {
    const accounts = await this.membership.accountsOf(p.userId);
    return this.repo.listVisible(
      p.userId,
      accounts.map((a) => a.id),
    );
  }

  /** @throws AppError not_found when missing or not visible to the caller */
  async get(p: Principal, id: string): Promise<AssistantRecord> {
    const a = await this.repo.findById(id);
    if (!a || !(await this.#mayUse(p, a))) throw notFound();
    return a;
  }

  /**
   * For a chat request that names the assistant. Another user's assistant
   * answers exactly like a missing one, so ids cannot be probed.
   * @throws AppError not_found (no such id, or the caller may not use it)
   */
  async usable(p: Principal, id: string): Promise<AssistantRecord> {
    return this.get(p, id);
  }

  async update(p: Principal, id: string, input: AssistantInput): Promise<AssistantRecord> {
    const a = await this.#owned(p, id);
    await this.#validate(p, input, a);
    const updated = await this.repo.update(id, input);
    if (!updated) throw notFound();
    return updated;
  }

  async delete(p: Principal, id: string): Promise<void> {
    await this.#owned(p, id);
    if (!(await this.repo.delete(id))) throw notFound();
  }

  async #owned(p: Principal, id: string): Promise<AssistantRecord> {
    const a = await this.get(p, id);
    if (a.ownerUserId !== p.userId)
      throw new AppError('forbidden', 'Only the owner may change this assistant.');
    return a;
  }

  /**
   * Files and tags an assistant is given must be readable by its author; one
   * that is not answers exactly like one that does not exist (same code, same
   * message), so the endpoint tells nothing about other users' files or tags.
   */
  async #assertReadable(
    p: Principal,
    input: AssistantInput,
    current?: AssistantRecord,
  ): Promise<void> {
    const newIds = [...new Set(input.fileIds)].filter((id) => !current?.fileIds.includes(id));
    if (newIds.length > 0) {
      const readable = new Set(await this.documents.readableFileIds(p, newIds));
      const missing = newIds.find((id) => !readable.has(id));
      if (missing !== undefined)
        throw new AppError('invalid_request', `File "${missing}" was not found.`, {
          param: 'fileIds',
        });
    }
    const newTags = [...new Set(input.tags)].filter((t) => !current?.tags.includes(t));
    if (newTags.length > 0) {
      const readable = new Set(await this.documents.readableTags(p, newTags));
      const missing = newTags.find((t) => !readable.has(t));
      if (missing !== undefined)
        throw new AppError('invalid_request', `No file tagged "${missing}" was found.`, {
          param: 'tags',
        });
    }
  }

  async #mayUse(p: Principal, a: AssistantRecord): Promise<boolean> {
    if (a.ownerUserId === p.userId) return true;
    for (const accountId of a.sharedAccountIds)
      if (await this.membership.isMember(p.userId, accountId)) return true;
    return false;
  }

  /** `current`: the record being updated; what it already holds was checked when it was added */
  async #validate(p: Principal, input: AssistantInput, current?: AssistantRecord): Promise<void> {
    if (input.model !== null) this.models.resolve(input.model);
    await this.#assertReadable(p, input, current);
    // sharing with an account the owner does not belong to would hand it to strangers
    for (const accountId of input.sharedAccountIds) {
      if (current?.sharedAccountIds.includes(accountId)) continue;
      if (!(await this.membership.isMember(p.userId, accountId)))
        throw new AppError('forbidden', `You are not a member of the account "${accountId}".`, {
          param: 'sharedAccountIds',
        });
    }
    if (input.tools.includes('fetch_url')) {
      if (!this.opts.fetchUrlEnabled)
        throw new AppError(
          'invalid_request',
          'The fetch_url tool is not enabled on this gateway.',
          {
            param: 'tools',
          },
        );
      if (!hasScope(p, 'admin'))
        throw new AppError('forbidden', 'Only administrators may enable the fetch_url tool.', {
          param: 'tools',
        });
    }
  }
}

function notFound(): AppError {
  return new AppError('not_found', 'Assistant not found.', { param: 'assistantId' });
}
