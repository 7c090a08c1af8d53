import type { Principal } from '@switchboard/auth';

export function user(userId: string, accountIds: string[] = []): Principal {
  return { kind: 'user', userId, accountIds, scopes: ['chat', 'files'], limits: {} };
}
