import type { Migration } from '@switchboard/storage';

/**
 * Stored responses of `POST /v1/responses` and their items. Items are rows so an
 * `item_reference` (by item id, scoped to the owner) and the `input_items` page
 * are index lookups; a response's items go with it (ON DELETE CASCADE).
 */
export const responseMigrations: Migration[] = [
  {
    id: '0500_responses_tables',
    up: `
      CREATE TABLE IF NOT EXISTS stored_responses (
        id text PRIMARY KEY,
        owner_user_id text NOT NULL,
        previous_response_id text,
        created_at timestamptz NOT NULL,
        body jsonb NOT NULL
      );
      CREATE INDEX IF NOT EXISTS stored_responses_created_idx ON stored_responses (created_at);
      CREATE TABLE IF NOT EXISTS stored_response_items (
        response_id text NOT NULL REFERENCES stored_responses (id) ON DELETE CASCADE,
        owner_user_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('input', 'output')),
        position integer NOT NULL,
        item_id text NOT NULL,
        item jsonb NOT NULL,
        PRIMARY KEY (response_id, kind, position)
      );
      CREATE INDEX IF NOT EXISTS stored_response_items_ref_idx
        ON stored_response_items (owner_user_id, item_id);
    `,
  },
];
