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
];
