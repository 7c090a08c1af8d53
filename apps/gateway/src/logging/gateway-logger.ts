import type { LoggerService } from '@nestjs/common';
import pino from 'pino';
import pretty from 'pino-pretty';

/**
 * The process logger: JSON lines (what CloudWatch, the tests and the bench read), or a
 * short human format when stdout is a terminal.
 */
export function createGatewayLogger(
  level: string,
  output: { isTTY?: boolean } = process.stdout,
): pino.Logger {
  if (!output.isTTY) return pino({ level });
  return pino(
    { level },
    pretty({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
      // synchronous, so the last lines before process.exit are not lost
      sync: true,
    }),
  );
}

/** Nest's own bootstrap messages: module initialised, controller and route mapped, started. */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * Nest logs every module and every mapped route at `log` (info): about sixty lines per
 * boot that bury the one line saying the gateway is ready. They go out at debug;
 * everything else passes through unchanged.
 */
export class FrameworkChatterAtDebug implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context) && this.inner.debug)
      this.inner.debug(message, ...optionalParams);
    else this.inner.log(message, ...optionalParams);
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.error(message, ...optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.warn(message, ...optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.debug?.(message, ...optionalParams);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.verbose?.(message, ...optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.fatal?.(message, ...optionalParams);
  }
}

/**
 * Nest's logger interface over the process logger, for what Nest logs while the
 * app is being built (before nestjs-pino's logger exists): a boot that fails
 * there logs in the same format as everything else.
 */
export function nestLoggerOver(logger: pino.Logger): LoggerService {
  const at =
    (level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal') =>
    (message: unknown, ...params: unknown[]): void => {
      const last = params[params.length - 1];
      const context = typeof last === 'string' ? last : undefined;
      if (message instanceof Error) logger[level]({ err: message, context }, message.message);
      else logger[level]({ context }, typeof message === 'string' ? message : String(message));
    };
  return {
    log: at('info'),
    error: at('error'),
    warn: at('warn'),
    debug: at('debug'),
    verbose: at('trace'),
    fatal: at('fatal'),
  };
}
