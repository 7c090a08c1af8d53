import type { Migration } from '@switchboard/storage';

/**
 * User-defined assistants. Attached files, tags, enabled tools and the accounts
 * an assistant is shared with are small sets read with the row, so they are
 * arrays; the GIN index serves "shared with any of my accounts".
 */
export const assistantMigrations: Migration[] = [
  {
    id: '0400_assistants_tables',
    up: `
      CREATE TABLE IF NOT EXISTS assistants (
        id text PRIMARY KEY,
        owner_user_id text NOT NULL,
        name text NOT NULL,
        instructions text NOT NULL DEFAULT '',
        model text,
        file_ids text[] NOT NULL DEFAULT '{}',
        tags text[] NOT NULL DEFAULT '{}',
        tools text[] NOT NULL DEFAULT '{}',
        shared_account_ids text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX IF NOT EXISTS assistants_owner_idx ON assistants (owner_user_id);
      CREATE INDEX IF NOT EXISTS assistants_shared_idx ON assistants USING gin (shared_account_ids);
    `,
  },
];
