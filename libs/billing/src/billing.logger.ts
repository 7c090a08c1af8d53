/** The log calls billing needs; Nest's `Logger` and pino both satisfy it. */
export interface BillingLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: BillingLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
