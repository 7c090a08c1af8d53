/**
 * Child process for the crash test: claims a job with a short lease, prints
 * "started <jobId>", then hangs until it is killed (SIGKILL: no cleanup runs).
 */
import { PostgresDatabase } from '@switchboard/storage';
import { JobQueue } from '../src/jobs/job-queue';
import { JobWorker } from '../src/jobs/job-worker';

async function main(): Promise<void> {
  const db = await PostgresDatabase.connect({ url: process.env.CRASH_DB_URL!, poolSize: 2 });
  const worker = new JobWorker(new JobQueue(db), { workerId: 'doomed', pollMs: 10, leaseMs: 300 });
  worker.register('crash-test', {
    run: (_p, ctx) => {
      process.stdout.write(`started ${ctx.jobId}\n`);
      return new Promise<void>(() => undefined); // never finishes
    },
  });
  worker.start();
}

void main();
