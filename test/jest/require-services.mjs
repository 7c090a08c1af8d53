// Jest globalSetup of the integration and e2e projects: PostgreSQL and Redis must answer
// before any spec runs. A missing service stops the run at once with one line naming it
// and the command that starts it (README, "Running the tests"), instead of every spec
// failing on its own connection timeout.
import net from 'node:net';

const CONNECT_TIMEOUT_MS = 2000;

const SERVICES = [
  {
    name: 'PostgreSQL',
    url: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    defaultPort: 5432,
    start:
      'docker run -d --name switchboard-postgres -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:15',
  },
  {
    name: 'Redis',
    url: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    defaultPort: 6379,
    start: 'docker run -d --name switchboard-redis -p 6379:6379 redis:7',
  },
];

/** resolves to undefined when a TCP connection opens, else to the reason it did not */
function probe(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(`no answer within ${CONNECT_TIMEOUT_MS} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err) => done(err.code ?? err.message));
  });
}

export default async function requireServices() {
  const missing = [];
  await Promise.all(
    SERVICES.map(async (service) => {
      const url = new URL(service.url);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = Number(url.port || service.defaultPort);
      const reason = await probe(host, port);
      if (reason !== undefined)
        missing.push(
          `${service.name} is not reachable at ${host}:${port} (${reason}); start it with: ${service.start}`,
        );
    }),
  );
  if (missing.length === 0) return;
  // one line per missing service, no stack trace: the message is the whole diagnosis
  const error = new Error(missing.join('\n'));
  error.stack = error.message;
  throw error;
}
