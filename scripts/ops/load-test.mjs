#!/usr/bin/env node
// Drives N concurrent streaming chat completions against a gateway; reports TTFT and errors.
import { cliArgs, fail } from './lib/cli.mjs';
import { LIMITS, runLoadTest } from './lib/load-test-core.mjs';

const USAGE = `usage: npm run load-test -- --url URL --key KEY [options]

  --url URL            gateway base URL, e.g. http://127.0.0.1:8080 or the stack's serviceUrl
  --key KEY            API key (or env SWITCHBOARD_API_KEY)
  --concurrency N      concurrent streams (default 10, max ${LIMITS.concurrency})
  --requests N         total streams to run (default: --concurrency, max ${LIMITS.requests})
  --duration S         stop after S seconds whatever is left (default 120, max ${LIMITS.durationSeconds})
  --timeout S          per-stream timeout (default 120)
  --model ID           model id (default gpt-4o-mini; simulated when the gateway has no provider keys)
  --prompt TEXT        user message (default: a short question)
  --max-tokens N       max_tokens per request (default 256)
  --allow-remote       required for any host other than loopback
  --json               print the summary as JSON`;

const args = cliArgs(USAGE, {
  url: { type: 'string' },
  key: { type: 'string' },
  concurrency: { type: 'string', default: '10' },
  requests: { type: 'string' },
  duration: { type: 'string', default: '120' },
  timeout: { type: 'string', default: '120' },
  model: { type: 'string', default: 'gpt-4o-mini' },
  prompt: {
    type: 'string',
    default: 'Explain in a few sentences why streaming responses improve perceived latency.',
  },
  'max-tokens': { type: 'string', default: '256' },
  'allow-remote': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
});

const key = args.key ?? process.env.SWITCHBOARD_API_KEY;
if (!key) fail(`--key (or SWITCHBOARD_API_KEY) is required\n\n${USAGE}`, 2);

let summary;
try {
  summary = await runLoadTest({
    url: args.url,
    key,
    model: args.model,
    prompt: args.prompt,
    maxTokens: Number(args['max-tokens']),
    concurrency: Number(args.concurrency),
    requests: args.requests === undefined ? undefined : Number(args.requests),
    durationSeconds: Number(args.duration),
    timeoutSeconds: Number(args.timeout),
    allowRemote: args['allow-remote'],
  });
} catch (e) {
  fail(`${e.message}\n\n${USAGE}`, 2);
}

if (args.json) {
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} else {
  const ms = (v) => (v === null ? 'n/a' : `${v} ms`);
  process.stdout.write(
    [
      `${summary.completed} streams against ${summary.url} (${summary.concurrency} concurrent) in ${summary.elapsedSeconds} s`,
      `TTFT p50 ${ms(summary.ttftMs.p50)}  p95 ${ms(summary.ttftMs.p95)}  p99 ${ms(summary.ttftMs.p99)}`,
      `errors ${summary.errors} (${(summary.errorRate * 100).toFixed(1)}%)` +
        (summary.errors
          ? `: ${Object.entries(summary.errorKinds)
              .map(([k, n]) => `${k} x${n}`)
              .join(', ')}`
          : ''),
    ].join('\n') + '\n',
  );
}
// Non-zero when nothing succeeded, so CI smoke runs fail loudly.
process.exitCode = summary.ok > 0 ? 0 : 1;
