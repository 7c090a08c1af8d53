import type { Migration } from '@switchboard/storage';

/**
 * Conversations and their messages, private to the user who owns them. The
 * owner is repeated on every message so a message is never read without the
 * owner in the predicate. `seq` orders messages written in the same instant.
 */
export const conversationMigrations: Migration[] = [
  {
    id: '0700_conversations_tables',
    up: `
      CREATE TABLE IF NOT EXISTS conversations (
        id text PRIMARY KEY,
        owner_user_id text NOT NULL,
        title text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX IF NOT EXISTS conversations_owner_recent_idx
        ON conversations (owner_user_id, updated_at DESC, id DESC);
      CREATE TABLE IF NOT EXISTS conversation_messages (
        id text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        owner_user_id text NOT NULL,
        role text NOT NULL CHECK (role IN ('user', 'assistant')),
        content text NOT NULL,
        status text NOT NULL CHECK (status IN ('streaming', 'complete', 'cancelled', 'error')),
        request_id text,
        model text,
        sources jsonb NOT NULL DEFAULT '[]',
        generated_files jsonb NOT NULL DEFAULT '[]',
        usage jsonb,
        error jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX IF NOT EXISTS conversation_messages_conversation_idx
        ON conversation_messages (conversation_id, seq);
    `,
  },
];
