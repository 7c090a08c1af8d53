import type { Migration } from '@switchboard/storage';

/**
 * Accounts (cost centres), their members, and API keys. Ids are text so an
 * admin may choose readable account ids; generated ids are UUIDs. API keys keep
 * only an HMAC of the key, never the key.
 */
export const identityMigrations: Migration[] = [
  {
    id: '0050_identity_tables',
    up: `
      CREATE TABLE IF NOT EXISTS accounts (
        id text PRIMARY KEY,
        name text NOT NULL,
        limits jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS account_members (
        account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        user_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, user_id)
      );
      CREATE INDEX IF NOT EXISTS account_members_user_idx ON account_members (user_id);
      CREATE TABLE IF NOT EXISTS api_keys (
        id text PRIMARY KEY,
        prefix text NOT NULL UNIQUE,
        hash text NOT NULL,
        owner_user_id text NOT NULL,
        account_id text NOT NULL REFERENCES accounts (id),
        scopes text[] NOT NULL,
        name text NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz,
        rotated_from text REFERENCES api_keys (id),
        grace_until timestamptz,
        limits jsonb,
        last_used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX IF NOT EXISTS api_keys_owner_idx ON api_keys (owner_user_id);
      CREATE INDEX IF NOT EXISTS api_keys_account_idx ON api_keys (account_id);
    `,
  },
  {
    id: '0051_identity_api_key_parent',
    up: `
      -- a key minted by a key-authenticated caller stays bounded by the key that minted it
      ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS parent_key_id text REFERENCES api_keys (id);
    `,
  },
];
