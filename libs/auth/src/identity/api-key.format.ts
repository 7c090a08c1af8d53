import { createHmac, randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const API_KEY_PREFIX_LENGTH = 8;
const SECRET_LENGTH = 40; // 40 base62 chars ~ 238 bits
const KEY_PATTERN = new RegExp(
  `^sb_([A-Za-z0-9]{${API_KEY_PREFIX_LENGTH}})_([A-Za-z0-9]{${SECRET_LENGTH}})$`,
);

/** uniform base62 via rejection sampling (no modulo bias) */
function base62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248) out += ALPHABET[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * `sb_<prefix>_<secret>`: the 8-char prefix is public (shown in listings and
 * used to find the row), the secret never leaves the creation response.
 */
export function generateApiKey(): { key: string; prefix: string } {
  const prefix = base62(API_KEY_PREFIX_LENGTH);
  return { key: `sb_${prefix}_${base62(SECRET_LENGTH)}`, prefix };
}

/** the lookup prefix of a well-formed key, else undefined */
export function apiKeyPrefix(candidate: string): string | undefined {
  return KEY_PATTERN.exec(candidate)?.[1];
}

/** true when the token has the shape of an API key (cheap routing test, not verification) */
export function looksLikeApiKey(token: string): boolean {
  return KEY_PATTERN.test(token);
}

/** HMAC-SHA256(serverSecret, key): a database leak alone cannot be brute-forced offline */
export function hashApiKey(secret: string, key: string): Buffer {
  return createHmac('sha256', secret).update(key, 'utf8').digest();
}
