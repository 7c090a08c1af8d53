import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChatCompletionsError, ChatCompletionsTransport } from './chat-completions.transport';

/** An upstream whose every answer is `answer(res)`. */
async function upstream(answer: (res: ServerResponse) => void) {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: { url: new URL(`http://127.0.0.1:${port}/v1/chat/completions`), headers: {} },
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('ChatCompletionsTransport error answers', () => {
  const transport = new ChatCompletionsTransport({ timeoutMs: 30_000 });
  afterAll(() => transport.close());

  it('answers a non-2xx with its message, code and Retry-After', async () => {
    const up = await upstream((res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end('{"error":{"message":"slow down","code":"rate_limit_exceeded"}}');
    });
    try {
      await expect(
        transport.send(up.endpoint, '{}', new AbortController().signal),
      ).rejects.toMatchObject({
        status: 429,
        code: 'rate_limit_exceeded',
        retryAfter: '7',
        message: '429 slow down',
      });
    } finally {
      await up.close();
    }
  });

  it('cuts off an error body that never ends, answering with what it kept', async () => {
    let cutOff = false;
    let sent = 0;
    const up = await upstream((res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.write('{"error":{"message":"overloaded"}}');
      const pad = Buffer.alloc(64 * 1024, 0x20);
      const more = () => {
        while (!res.destroyed && sent < 64 * 1024 * 1024) {
          sent += pad.length;
          if (!res.write(pad)) return void res.once('drain', more);
        }
      };
      res.on('close', () => (cutOff = !res.writableFinished));
      more();
    });
    try {
      const e = await transport
        .send(up.endpoint, '{}', new AbortController().signal)
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ChatCompletionsError);
      expect(e).toMatchObject({ status: 503, message: '503 overloaded' });
      await new Promise<void>((r) => {
        const check = () => (cutOff ? r() : setImmediate(check));
        check();
      });
      // the gateway stopped reading long before the upstream's 64 MiB
      expect(sent).toBeLessThan(32 * 1024 * 1024);
    } finally {
      await up.close();
    }
  });
});
