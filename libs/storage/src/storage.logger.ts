/** The few log calls storage needs; Nest's `Logger` and pino both satisfy it. */
export interface StorageLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
