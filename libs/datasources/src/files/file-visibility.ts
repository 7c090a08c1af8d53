import type { Principal } from '@switchboard/auth';

/**
 * THE visibility rule for files, as one SQL predicate: the caller owns the file,
 * or the file is shared with an account the caller belongs to. Every query that
 * reads files, texts or chunks for a principal embeds it (never filters after).
 *
 * `alias` is the files table alias; `userParam` and `accountsParam` are the
 * positional parameter numbers bound with `visibilityParams(principal)`.
 */
export function visibleFilePredicate(
  alias: string,
  userParam: number,
  accountsParam: number,
): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(alias)) throw new Error(`bad alias ${alias}`);
  return `(${alias}.owner_user_id = $${userParam} OR ${alias}.shared_account_ids && $${accountsParam}::text[])`;
}

/** the two values `visibleFilePredicate` expects, in order */
export function visibilityParams(
  principal: Pick<Principal, 'userId' | 'accountIds'>,
): [string, string[]] {
  return [principal.userId, [...principal.accountIds]];
}
