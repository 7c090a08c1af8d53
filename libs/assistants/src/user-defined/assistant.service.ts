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
    private readonly opts: AssistantServiceOptions = {},
  ) {}

  async create(p: Principal, input: AssistantInput): Promise<AssistantRecord> {
    await this.#validate(p, input, []);
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
   * For a chat request that names the assistant.
   * @throws AppError not_found (no such id) or forbidden (exists, caller may not use it)
   */
  async usable(p: Principal, id: string): Promise<AssistantRecord> {
    const a = await this.repo.findById(id);
    if (!a) throw notFound();
    if (!(await this.#mayUse(p, a)))
      throw new AppError('forbidden', 'You are not allowed to use this assistant.', {
        param: 'assistantId',
      });
    return a;
  }

  async update(p: Principal, id: string, input: AssistantInput): Promise<AssistantRecord> {
    const a = await this.#owned(p, id);
    await this.#validate(p, input, a.sharedAccountIds);
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

  async #mayUse(p: Principal, a: AssistantRecord): Promise<boolean> {
    if (a.ownerUserId === p.userId) return true;
    for (const accountId of a.sharedAccountIds)
      if (await this.membership.isMember(p.userId, accountId)) return true;
    return false;
  }

  async #validate(p: Principal, input: AssistantInput, alreadyShared: string[]): Promise<void> {
    if (input.model !== null) this.models.resolve(input.model);
    // sharing with an account the owner does not belong to would hand it to strangers
    for (const accountId of input.sharedAccountIds) {
      if (alreadyShared.includes(accountId)) continue;
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
