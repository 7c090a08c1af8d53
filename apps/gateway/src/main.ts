// first: refuses an unsupported Node before anything else is loaded
import './require-node';
// second: the embedded database starts opening while the rest loads
import './prestart-database';
import { ConfigError, loadConfig } from '@switchboard/config';
import { createGateway } from './bootstrap';
import { createGatewayLogger } from './logging/gateway-logger';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const logger = createGatewayLogger(config.logLevel);
  const gateway = await createGateway(config, { logger });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`received ${signal}`);
    gateway.drainAndClose().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(
    `switchboard failed to start: ${e instanceof Error ? e.message : String(e)}\n`,
  );
  process.exit(1);
});
