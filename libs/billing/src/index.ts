export * from './billing.types';
export * from './billing.migrations';
export type { BillingLogger } from './billing.logger';
export * from './pricing';
export * from './usage-ledger.service';
export * from './usage-reports.service';
