import { accountIdSchema, limitsSchema, scopesSchema } from '@switchboard/auth';
import {
  BUDGET_PERIODS,
  SCOPE_TYPES,
  type BudgetPeriod,
  type ScopeType,
} from '@switchboard/billing';
import { z } from 'zod';

const userId = z.string().min(1).max(200);
const name = z.string().min(1).max(200);
const MAX_GRACE_SECONDS = 30 * 24 * 3600;

/** An ISO 8601 timestamp with an offset, strictly in the future. */
const futureDate = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .refine((d) => d.getTime() > Date.now(), 'must be in the future');

export const createKeySchema = z
  .object({
    ownerUserId: userId,
    accountId: accountIdSchema,
    scopes: scopesSchema,
    name: name.optional(),
    expiresAt: futureDate.nullish(),
    limits: limitsSchema.nullish(),
  })
  .strict();

/** Self-service keys: the owner is the caller, and limits are the admin's to set. */
export const createOwnKeySchema = z
  .object({
    accountId: accountIdSchema.optional(),
    scopes: scopesSchema,
    name: name.optional(),
    expiresAt: futureDate.nullish(),
  })
  .strict();

export const keyFilterSchema = z.object({
  ownerUserId: userId.optional(),
  accountId: accountIdSchema.optional(),
});

export const rotateSchema = z
  .object({ graceSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS) })
  .strict();

/** PUT .../limits: the whole set of overrides; `{}` clears them. */
export const limitsBodySchema = limitsSchema;

export const createAccountSchema = z
  .object({ id: accountIdSchema.optional(), name, limits: limitsSchema.nullish() })
  .strict();

export const memberParamsSchema = z.object({ id: accountIdSchema, userId });

export const budgetParamsSchema = z.object({
  scopeType: z.enum(SCOPE_TYPES as [ScopeType, ...ScopeType[]]),
  scopeId: z.string().min(1).max(200),
  period: z.enum(BUDGET_PERIODS as [BudgetPeriod, ...BudgetPeriod[]]),
});

const MAX_MICROS = Number.MAX_SAFE_INTEGER;

/** Exactly one of limitUsd (dollars, up to micro-dollar precision) or limitMicros. */
export const budgetBodySchema = z
  .object({
    limitUsd: z
      .number()
      .min(0)
      .max(MAX_MICROS / 1_000_000)
      .optional(),
    limitMicros: z.number().int().min(0).max(MAX_MICROS).optional(),
  })
  .strict()
  .refine((b) => (b.limitUsd === undefined) !== (b.limitMicros === undefined), {
    message: 'send exactly one of limitUsd or limitMicros',
    path: ['limitUsd'],
  })
  .transform((b) => ({ limitMicros: b.limitMicros ?? Math.round(b.limitUsd! * 1_000_000) }));

export const budgetFilterSchema = z.object({
  scopeType: budgetParamsSchema.shape.scopeType.optional(),
  scopeId: budgetParamsSchema.shape.scopeId.optional(),
});
