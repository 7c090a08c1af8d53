import type { Migration } from '@switchboard/storage';

export const datasourceMigrations: Migration[] = [
  {
    id: '0200_datasources_files',
    up: `
      CREATE TABLE files (
        id                 text        PRIMARY KEY,
        owner_user_id      text        NOT NULL,
        name               text        NOT NULL,
        mime               text        NOT NULL,
        size               bigint      NOT NULL CHECK (size >= 0),
        sha256             text        NOT NULL,
        blob_key           text        NOT NULL UNIQUE,
        status             text        NOT NULL DEFAULT 'queued'
                                       CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
        error              text,
        tags               text[]      NOT NULL DEFAULT '{}',
        shared_account_ids text[]      NOT NULL DEFAULT '{}',
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX files_owner_idx ON files (owner_user_id, created_at DESC);
      CREATE INDEX files_shared_idx ON files USING gin (shared_account_ids);
      CREATE INDEX files_tags_idx ON files USING gin (tags);

      -- extracted text, one row per file; goes with the file
      CREATE TABLE file_texts (
        file_id    text        PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
        segments   jsonb       NOT NULL,
        chars      integer     NOT NULL,
        tokens     integer     NOT NULL,
        pages      integer,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    id: '0201_datasources_jobs',
    up: `
      CREATE TABLE jobs (
        id           text        PRIMARY KEY,
        kind         text        NOT NULL,
        payload      jsonb       NOT NULL DEFAULT '{}',
        status       text        NOT NULL DEFAULT 'queued'
                                 CHECK (status IN ('queued', 'running', 'done', 'dead')),
        attempts     integer     NOT NULL DEFAULT 0,
        max_attempts integer     NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
        run_at       timestamptz NOT NULL DEFAULT now(),
        lease_until  timestamptz,
        locked_by    text,
        last_error   text,
        dead_at      timestamptz,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE status = 'queued';
      CREATE INDEX jobs_lease_idx ON jobs (lease_until) WHERE status = 'running';
      CREATE INDEX jobs_dead_idx ON jobs (dead_at DESC) WHERE status = 'dead';
    `,
  },
  {
    id: '0202_datasources_external_sources',
    up: `
      CREATE TABLE external_sources (
        id           text        PRIMARY KEY,
        name         text        NOT NULL UNIQUE,
        url_template text        NOT NULL,
        method       text        NOT NULL CHECK (method IN ('GET', 'POST')),
        headers      jsonb       NOT NULL DEFAULT '{}',
        body_template text,
        enabled      boolean     NOT NULL DEFAULT true,
        created_by   text        NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    // `stored`: a file kept for download only (an image a tool produced), never ingested
    id: '0203_datasources_files_stored_status',
    up: `
      ALTER TABLE files DROP CONSTRAINT files_status_check;
      ALTER TABLE files ADD CONSTRAINT files_status_check
        CHECK (status IN ('queued', 'processing', 'ready', 'failed', 'stored'));
    `,
  },
];
