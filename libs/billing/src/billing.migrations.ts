import type { Migration } from '@switchboard/storage';

export const billingMigrations: Migration[] = [
  {
    id: '0100_billing_usage_ledger',
    up: `
      CREATE TABLE usage_ledger (
        request_id          text        NOT NULL,
        attempt             integer     NOT NULL CHECK (attempt >= 0),
        parent_request_id   text,
        user_id             text        NOT NULL,
        account_id          text,
        key_id              text,
        model               text        NOT NULL,
        provider            text        NOT NULL,
        input_tokens        bigint      NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
        cached_input_tokens bigint      NOT NULL DEFAULT 0 CHECK (cached_input_tokens >= 0),
        output_tokens       bigint      NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
        reasoning_tokens    bigint      NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
        cost_micros         bigint      NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
        status              text        NOT NULL CHECK (status IN ('complete', 'cancelled', 'error')),
        error_code          text,
        ttft_ms             integer,
        duration_ms         integer     NOT NULL DEFAULT 0,
        created_at          timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, attempt)
      );
      -- reports filter by time range, optionally by one principal; spentSince sums per scope
      CREATE INDEX usage_ledger_created_at_idx ON usage_ledger (created_at);
      CREATE INDEX usage_ledger_user_created_idx ON usage_ledger (user_id, created_at);
      CREATE INDEX usage_ledger_account_created_idx ON usage_ledger (account_id, created_at) WHERE account_id IS NOT NULL;
      CREATE INDEX usage_ledger_key_created_idx ON usage_ledger (key_id, created_at) WHERE key_id IS NOT NULL;
      CREATE INDEX usage_ledger_parent_idx ON usage_ledger (parent_request_id) WHERE parent_request_id IS NOT NULL;
    `,
  },
  {
    id: '0101_billing_budgets',
    up: `
      CREATE TABLE budgets (
        scope_type   text        NOT NULL CHECK (scope_type IN ('user', 'account', 'key')),
        scope_id     text        NOT NULL,
        period       text        NOT NULL CHECK (period IN ('hour', 'day', 'month', 'total')),
        limit_micros bigint      NOT NULL CHECK (limit_micros >= 0),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope_type, scope_id, period)
      );
    `,
  },
  {
    id: '0102_billing_request_identity_and_hold_journal',
    up: `
      -- request_id is the server-owned id of the request; the client's own id is a
      -- correlation id, unique only among one principal's requests in flight
      ALTER TABLE usage_ledger ADD COLUMN IF NOT EXISTS client_request_id text;
      CREATE INDEX IF NOT EXISTS usage_ledger_client_request_idx
        ON usage_ledger (user_id, client_request_id) WHERE client_request_id IS NOT NULL;
      -- every budget hold, one row per scope, so holds can be restored when the
      -- budget store (Redis) loses its data; closed rows keep the settled cost
      -- until the ledger has it
      CREATE TABLE IF NOT EXISTS budget_holds (
        hold_id       text        NOT NULL,
        scope_type    text        NOT NULL CHECK (scope_type IN ('user', 'account', 'key')),
        scope_id      text        NOT NULL,
        amount_micros bigint      NOT NULL CHECK (amount_micros >= 0),
        expires_at    timestamptz NOT NULL,
        closed_at     timestamptz,
        actual_micros bigint      CHECK (actual_micros >= 0),
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (hold_id, scope_type, scope_id)
      );
      CREATE INDEX IF NOT EXISTS budget_holds_scope_idx ON budget_holds (scope_type, scope_id);
      CREATE INDEX IF NOT EXISTS budget_holds_created_idx ON budget_holds (created_at);
    `,
  },
];
