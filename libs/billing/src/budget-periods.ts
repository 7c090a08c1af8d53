import type { BudgetPeriod } from './billing.types';
import type { Buckets } from './budget.types';

const pad = (n: number) => String(n).padStart(2, '0');

const HOUR = 3_600_000;

/** the buckets of the hour last asked for: every request of that hour shares them */
let lastHour: { start: number; buckets: Readonly<Buckets> } | undefined;

/** UTC period buckets: hour `YYYY-MM-DDTHH`, day `YYYY-MM-DD`, month `YYYY-MM`, total `total`. */
export function bucketsAt(nowMs: number): Readonly<Buckets> {
  const start = Math.floor(nowMs / HOUR) * HOUR;
  if (lastHour?.start === start) return lastHour.buckets;
  const d = new Date(nowMs);
  const month = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
  const day = `${month}-${pad(d.getUTCDate())}`;
  const buckets = Object.freeze({
    hour: `${day}T${pad(d.getUTCHours())}`,
    day,
    month,
    total: 'total',
  });
  lastHour = { start, buckets };
  return buckets;
}

/** start (UTC) of the period containing `nowMs`; the epoch for `total` */
export function periodStart(period: BudgetPeriod, nowMs: number): Date {
  const d = new Date(nowMs);
  switch (period) {
    case 'hour':
      return new Date(
        Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()),
      );
    case 'day':
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
    case 'month':
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    case 'total':
      return new Date(0);
  }
}

/**
 * How long a spent counter outlives its last write. Longer than the period, so
 * a bucket never expires while it is current; `total` never expires.
 */
export const SPENT_TTL_MS: Record<Exclude<BudgetPeriod, 'total'>, number> = {
  hour: HOUR + 15 * 60_000,
  day: 25 * HOUR,
  month: 32 * 24 * HOUR,
};

/** hold records (what settle needs) stay this long after the hold itself expires */
export const HOLD_RECORD_GRACE_MS = 24 * HOUR;
