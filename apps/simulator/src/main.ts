import { startSimulator } from '@switchboard/simulator';

const DEFAULT_PORT = 8090;

function portFromArgs(argv: readonly string[]): number | undefined {
  const i = argv.findIndex((a) => a === '--port' || a.startsWith('--port='));
  if (i < 0) return undefined;
  const raw = argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
  return parsePort(raw, '--port');
}

function parsePort(raw: string | undefined, source: string): number {
  const port = Number(raw);
  if (raw === undefined || raw === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${source} must be a port number (0-65535), got ${JSON.stringify(raw)}`);
  }
  return port;
}

async function main(): Promise<void> {
  const port =
    portFromArgs(process.argv.slice(2)) ??
    (process.env.PORT !== undefined ? parsePort(process.env.PORT, 'PORT') : DEFAULT_PORT);
  const sim = await startSimulator({ port, host: process.env.HOST ?? '0.0.0.0' });
  process.stdout.write(`switchboard simulator listening on ${sim.url}\n`);

  const shutdown = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `simulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
